"""Word lists behind the content rules, each with the reason it looks the way it does.

Entries are written in a small notation and compiled by `words()`:

- a plain word matches itself with any letter repeated (`loli` also matches `lolliii`, `kiiid`),
  which undoes the stretching people use against filters; where doubling changes the word
  (`shotta` is Jamaican slang, not `shota`) the entry is written as a raw expression instead;
- a space matches any run of spaces/hyphens/underscores (`make love`, `make-love`);
- a trailing `*` allows any word ending (`porn*` → porn, porno, pornographic);
- an entry starting with `re:` is a raw regular expression.

Matches are whole words: a letter or digit may not touch either end, so `kid` does not match
`kidding`, `kidney` or `skid`, and `teen` does not match `eighteen` or `canteen`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_LEFT = r"(?<![a-z0-9])"
_RIGHT = r"(?![a-z0-9])"


def _atoms(entry: str, fuzzy: bool) -> list[str]:
    """One plain entry as a list of regex atoms, one per character of the notation."""
    out = []
    for ch in entry.rstrip("*"):
        if ch == " ":
            out.append(r"[\s_-]+")
        elif ch == "-":
            out.append(r"[\s_-]?")
        elif ch.isalpha() and fuzzy:
            out.append(f"{re.escape(ch)}+")
        else:
            out.append(re.escape(ch))
    if entry.endswith("*"):
        out.append(r"[a-z]*")
    return out


_END = ""


def _trie(sequences: Iterable[list[str]]) -> str:
    """Merge atom sequences into one regex that shares common prefixes.

    A flat alternation of a few hundred words is tried word by word at every word start; the
    merged form checks each first letter once, which makes the sexual-word scan several times
    faster on long texts. Matching is the same: the caller adds the word boundaries.
    """
    root: dict[str, dict] = {}
    for seq in sequences:
        node = root
        for atom in seq:
            node = node.setdefault(atom, {})
        node[_END] = {}

    def emit(node: dict[str, dict]) -> str:
        branches = [atom + emit(child) for atom, child in sorted(node.items()) if atom != _END]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        if _END in node:  # the word may also stop here ("sex" as well as "sexy")
            return f"(?:{body})?" if len(branches) == 1 else f"{body}?"
        return body

    return emit(root)


def words(entries: Iterable[str], *, fuzzy: bool = True) -> str:
    """Compile entries (see the module docstring) to one whole-word alternation."""
    entries = set(entries)
    raw = sorted(e[3:] for e in entries if e.startswith("re:"))
    merged = _trie(_atoms(e, fuzzy) for e in sorted(entries) if not e.startswith("re:"))
    alternatives = [p for p in (merged, *raw) if p]
    return rf"{_LEFT}(?:{'|'.join(alternatives)}){_RIGHT}"


def compile_words(entries: Iterable[str], *, fuzzy: bool = True) -> re.Pattern[str]:
    """`words()` compiled once, at import."""
    return re.compile(words(entries, fuzzy=fuzzy))


def _word_set(block: str) -> frozenset[str]:
    """A whitespace-separated word block (easier to read and extend than a list literal)."""
    return frozenset(block.split())


# --- Sexual context -------------------------------------------------------------------------
# Ambiguous minor words and school settings are refused only near one of these. The list is
# deliberately explicit: romance words ("kiss", "date", "hot", "bed") and body words ("ass",
# "thighs") are left out, because they sit next to ordinary mentions of someone's kids all the
# time ("kissed the kids goodnight") and would turn this bot's everyday text into refusals.
# Words that are also ordinary words are listed in their sexual forms only: "lust" but not
# "lustre", "cock" but not "cocktail", "made out with" but not "made out of".
SEXUAL = (
    "sex", "sexy", "sexier", "sexiest", "sexual*", "sexting", "sexted", "sext", "sexts", "seggs",
    "secks", "nsfw", "nude", "nudes", "nudity", "nudist*", "naked*", "lewd*", "horny", "horni*",
    "aroused", "arousal", "arousing", "erotic*", "porn*", "hentai", "smut*", "xxx", "fuck*",
    "fuk*", "fck*", "re:f[*#@]+ck[a-z]*", "cock", "cocks", "cockhead", "cocksucker*", "dick",
    "dicks", "penis*", "vagina*", "vulva*", "pussy", "pussies", "clit", "clits", "clitoris", "cunt*",
    "tits", "titties", "titty", "boobs", "boobies",
    "re:(?<!chicken\\s)(?<!turkey\\s)(?<!duck\\s)breasts", "nipple*", "areola*", "re:cum(?!\\s+laude)", "cums",
    "cumming", "cummed", "cumshot*", "semen", "sperm", "jizz*", "orgasm*", "climaxed", "climaxing",
    "masturbat*", "wank*", "jerk off", "jerking off",
    "jerked off", "jack off", "jacking off", "handjob*", "blowjob*", "blow job*", "rimjob*",
    "deepthroat*", "anal", "oral sex", "sixty-nine", "69", "bdsm", "bondage", "spank*", "kink*",
    "fetish*", "erection*", "boner*", "hard-on*", "slut*", "whore*", "milf*", "dilf*",
    "stripper*", "striptease*", "strip naked", "stripped naked",
    "re:strip(?:s|ped|ping)?\\s+(?:for|naked|off|down|nude)", "undress*", "disrobe*", "lingerie",
    "panties", "panty", "thong", "thongs", "topless", "bottomless", "cleavage",
    "re:grop(?:e|es|ed|ing)", "fondl*", "caress*", "penetrat*", "thrust*", "seduc*", "sensual*", "intimacy",
    "re:intimate(?:ly)?\\s+with", "make love", "making love", "made love", "lovemaking", "foreplay", "lust", "lusts",
    "lusty", "lustful", "lusting", "lusted", "creampie*", "impregnat*", "rape", "raped", "raping",
    "rapes", "rapist*", "molest*", "virginity", "deflower*", "ahegao", "futa",
    "futanari", "bukkake", "gangbang*", "threesome*", "orgy", "orgies", "cunnilingus", "fellatio",
    "dildo*", "vibrator*", "buttplug*", "butt plug*", "sex toy*", "crotch*", "groin", "genital*",
    "pubic", "pubes", "bulge", "humping", "humped", "make out with",
    "making out", "made out with", "hickey*", "onlyfans", "camgirl*", "prostitut*", "hooker*",
    "sugar daddy", "sultry", "provocative*", "suggestive*", "flirt*", "romance", "romantic*",
    "hookup*", "hook up",
    "re:explicit(?:ly)?(?!\\s+(?:instructions?|permission|consent|rules?|directions?|warnings?|about))",
    "hooked up", "hooking up", "turned on by", "so turned on",
    "get turned on", "gets turned on", "getting turned on", "hot and bothered", "bareback*",
    "rawdog*", "raw-dog*", "nipslip*", "re:in\\s+heat(?!\\s+waves?)", "dripping wet", "pleasure herself",
    "pleasure himself", "pleasure myself", "pleasuring herself", "pleasuring himself",
    "re:spread(?:s|ing)?\\s+(?:her|his|my|your|their)\\s+legs",
    "unbutton*",
    "re:(?:take|takes|took|taking|pull|pulls|pulled|pulling|strip|strips)\\s+(?:off|down)\\s+(?:her|his|your|my|"
    "their)\\s+(?:clothes|pants|panties|shirt|top|dress|skirt|underwear|bra|shorts|knickers)",
    "re:(?:take|takes|took|taking|pull|pulls|pulled|pulling)\\s+(?:her|his|your|my|their)\\s+(?:clothes|pants|"
    "panties|shirt|top|dress|skirt|underwear|bra|shorts|knickers)\\s+(?:off|down)",
    "re:touch(?:es|ed|ing)?\\s+(?:her|him|me|you|them|myself|herself|himself)\\s+"
    "(?:down\\s+there|inappropriately|between)",
)
# Emoji used as sexual shorthand; matched without word boundaries.
SEXUAL_EMOJI = "🍆💦🍑🔞"

# Image prompts are judged as pictures: clothing that is ordinary in a story ("the kids played
# while she tanned in her bikini") is the sexualising detail in an image of a minor.
SEXUAL_IMAGE_EXTRA = (
    "bikini*", "swimsuit*", "bathing suit*", "see-through", "sheer", "wet t-shirt", "pin-up",
    "pinup", "boudoir", "seductive*", "spread legs", "bedroom eyes", "underwear",
)

# --- Minor-coded words ----------------------------------------------------------------------
# Refused in any context: words with no adult reading, used almost only to sexualise minors.
# "underage" is here but may be negated ("no underage characters"); the others may not, since
# "not a loli *wink*" is how the word gets smuggled in. Written without fuzzing where a doubled
# letter makes another word ("shotta").
HARD_MINOR = (
    "re:l+o+l+i+(?:s|con|cons|-con)?", "re:r+o+r+i+con", "re:sh+o+t+a+(?:s|con|cons|-con)?",
    "re:lolisho(?:ta)?", "re:toddler-?con", "re:jail[\\s_-]*bait", "re:pa?edo(?:s|phil[a-z]*)?",
    "re:pedo-?bear", "re:pre[\\s_-]*teens?", "re:tweens?", "re:pre-?pubescen(?:t|ts|ce)",
    "re:pre-?pubert(?:y|al)", "re:nymphets?", "re:cunny", "re:c\\s*s\\s*a\\s*m", "re:pthc",
    "re:child[\\s_-]*porn[a-z]*", "re:kidd?(?:ie|y|ies)?[\\s_-]*porn[a-z]*",
    "re:minor[\\s_-]*attracted", "re:under[\\s_-]*aged?",
)
# The subset of HARD_MINOR looked for inside spaced-out letter runs, where there are no word
# boundaries ("x l o l i" joins to "xloli"): terms that are never part of an ordinary word.
# "pedo" (torpedo) and "tween" (between) are left out for that reason.
HARD_IN_RUNS = re.compile(r"l+o+l+i+|sh+o+t+a+|jailbait|preteen|underage|csam")
# The subset of HARD_MINOR that a preceding negation may cancel ("nobody here is underage").
NEGATABLE_HARD = re.compile(r"under[\s_-]*aged?")

# Refused near sexual context (and always in image prompts, where an adult model would render
# them): words that usually mean a minor but have ordinary adult uses nearby. Decisions:
# - "kiddo": a nickname adults also use, but in sexual text it is an age-play marker → refused.
# - "teen"/"teens"/"teenager": refused in sexual context even beside "18" or "19"; "18-year-old"
#   says the same thing without leaning on a minor-coded word.
# - "little one", "young girl/boy": refused in sexual context; "young woman", "girl", "boy",
#   "baby girl", "babygirl" and "daddy" are adult usage and allowed.
# - "lolita" (also an adult fashion style) and "schoolgirl" (also a costume) are refused in
#   sexual context: the costume framing is the usual route to minor-coded content.
# - "cp" is fandom shorthand for a pairing ("my favourite cp"), so it needs sexual context.
# - age-play words (ddlg, abdl, littlespace, age regression) are refused in sexual context.
SOFT_MINOR = (
    "child", "children", "childs", "re:child-?like", "re:step-?child(?:ren)?", "kid", "kids",
    "kiddo", "kiddos", "kiddie", "kiddies", "kiddy", "teen", "teens", "teenage", "teenaged",
    "teenager", "teenagers", "teenie", "teenies", "minors", "little girl", "little girls",
    "little boy", "little boys", "little one", "little ones", "young girl", "young girls",
    "young boy", "young boys", "young kid*", "young child*", "school girl", "school girls",
    "schoolgirl", "schoolgirls", "school boy", "school boys", "schoolboy", "schoolboys",
    "youngster", "youngsters", "juveniles", "adolescent", "adolescents", "adolescence",
    "pubescent", "puberty", "toddler", "toddlers", "infant", "infants", "newborn", "newborns",
    "kindergartner", "kindergartners", "kindergartener", "kindergarteners", "preschooler",
    "preschoolers", "middle-schooler", "middle-schoolers", "high-schooler", "high-schoolers",
    "grade-schooler", "grade-schoolers", "elementary-schooler", "elementary-schoolers",
    "re:(?:[1-9]|1[0-2])(?:st|nd|rd|th)[\\s-]*graders?",
    "re:(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth)"
    "[\\s-]*graders?",
    "lolita", "lolitas", "re:cp", "ddlg", "abdl", "ageplay", "age play", "age regression",
    "age-regressed", "littlespace", "little space", "joshikousei", "joshi kousei", "chugakusei",
    "chuugakusei", "shogakusei", "shougakusei",
)
# "minor" alone is usually an adjective ("a minor detail", "minor injury", "C minor"); it is a
# person only after a determiner and before a pause, a verb or a person word.
MINOR_NOUN = (
    r"(?<![a-z0-9])(?:a|the|any|another|one|this|with|some|underage)\s+minor(?:s)?"
    r"(?=\s*(?:$|[^\w\s'])|\s+(?:and|or|who|that|is|was|in|at|on|with|to|by|for|from|under|"
    r"girl|boy|child|kid|student|like|as)\b)"
)

# Extra words refused in image prompts only: they describe how a person looks, which is what a
# picture shows. In a story "she looks young for her age" is ordinary.
IMAGE_ONLY_MINOR = (
    "young-looking", "younger-looking", "baby face", "baby-faced", "babyface", "kid-like",
    "very young", "extremely young", "super young", "too young", "tiny child*", "small child*",
    "child body", "childish body", "flat child*",
)

# --- School-age settings --------------------------------------------------------------------
# Places and stages that only minors attend. "college", "university", "campus", "dorm",
# "grad school", "law school" and plain "school"/"student"/"teacher" are not here: teacher and
# student roleplay between adults is allowed unless a school-age marker appears.
# "high school teacher" is refused with sexual context (the usual scenario is a pupil);
# "high school reunion" and leaving high school are masked below as adult settings.
SCHOOL = (
    "middle school", "middleschool", "junior high", "re:jr\\.?[\\s-]*high", "high school",
    "highschool", "elementary school", "grade school", "primary school", "secondary school",
    "prep school", "boarding school", "kindergarten", "preschool", "pre-school", "nursery school",
    "daycare", "day-care", "sixth form", "homeroom", "school uniform*", "school bus", "prom",
    "prom night", "re:(?:at|during|after)\\s+recess", "re:recess\\s+(?:time|bell)",
    "re:(?:[1-9]|1[0-2])(?:st|nd|rd|th)[\\s-]*grade",
    "re:(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth)"
    "[\\s-]*grade",
    "re:grade\\s+(?:[1-9]|1[0-2])(?!\\s*(?:steel|oil|bolt|fuel|beef|[a-z]\\b))",
    "re:(?:in|a)\\s+year\\s+(?:[1-9]|1[0-3])(?!\\s*(?:of|old|ago|years?|since))",
)

# --- Safe phrases -----------------------------------------------------------------------------
# Blanked out before minor words and school settings are looked for, so that ordinary adult
# talk near sexual text stays allowed. Each is a fixed idiom or a parent talking about their
# own children, not a description of one.
SAFE_PHRASES = (
    # idioms built on "kid" / "child"
    r"kid\s+(?:gloves|you\s+not|yourself|myself|me|around|at\s+heart)",
    r"new\s+kid\s+(?:in\s+town|on\s+the\s+block)", r"(?:the\s+)?karate\s+kid", r"comeback\s+kid",
    r"child'?s\s+play", r"inner\s+child", r"wild\s+child", r"flower\s+child", r"poster\s+child",
    r"love\s+child", r"(?:an?\s+)?(?:only|middle|eldest|oldest|youngest)\s+child",
    r"(?:heavy|great|big|pregnant|she's|she\s+is|is|was|be|being)\s+with\s+child(?![\w'])",
    r"child\s+(?:support|custody|care|labou?r\s+laws?)",
    r"(?:kid|child|family)-?(?:friendly|free|safe|proof)", r"childhood", r"childless",
    r"kid\s+(?:rock|cudi)", r"billy\s+the\s+kid",
    r"like\s+a\s+kid\s+(?:in\s+a\s+candy\s+store|on\s+christmas(?:\s+morning)?)",
    # Delight or condescension, not behaviour: "acts like a child in bed" stays with the rules.
    r"(?:treat\w*|grin\w*|laugh\w*|giggl\w*|smil\w*|squeal\w*)\s+(?:\w+\s+)?like\s+a\s+(?:kid|child)(?![\w'])",
    r"(?:her|his|my|their|our|the)\s+(?:teen|teenage)\s+years\s+(?:are|were)\s+(?:long\s+)?(?:behind|over|gone)",
    r"child(?:ren)?\s+of\s+(?:the\s+)?(?:night|gods?|fate|destiny|stars?|moon|sun|light|"
    r"darkness|chaos|prophecy|forest|storm)",
    # Parents stating that they have children. Only bare nouns are masked: an adjective
    # ("mother of a little girl") leaves the phrase to the rules.
    r"(?:single\s+)?(?:mother|mom|mum|father|dad|parent)s?\s+(?:of|to)\s+(?:a|an|one|two|three|"
    r"four|five|\d|several|many|twin|twins|grown|adult)?\s*(?:grown\s+)?"
    r"(?:kids?|children|child|boys|girls|teens?|teenagers?)(?![\w'-])",
    r"(?:single\s+)?(?:mother|mom|mum|father|dad|parent)s?\s+with\s+(?:a|an|one|two|three|four|five|\d|"
    r"several|many|twin|grown)\s+(?:kids?|children|child)(?![\w'-])",
    r"(?:has|have|had|having|raising|raised|raise|want|wants|wanted)\s+(?:a|an|one|two|three|four|"
    r"five|\d|several|many|no|grown|adult|any|more)?\s*(?:grown\s+)?(?:kids?|children|child)"
    r"(?![\w'-])(?!\s+(?:body|bodies|face|figure|frame|size|build|voice|mind|features|"
    r"proportions|like|who|that|to\s+(?:fuck|touch|play)))",
    # A parent saying where their children are; plural and possessive only, because "the kid is
    # asleep" is also how a scene about a child begins.
    r"(?:my|her|his|their|our)\s+(?:kids|children)\s+(?:are|were)\s+(?:all\s+|finally\s+|still\s+)?"
    r"(?:asleep|sleeping|in\s+bed|at\s+(?:(?:their|my|his|her|our|the)\s+)?(?:school|camp|daycare|\w+'s)|"
    r"grown|grown\s+up|in\s+college|"
    r"away|out|with\s+(?:their|my|his|her|our)\s+\w+)",
    r"(?:put|putting|tuck|tucking|tucked)\s+(?:the|my|her|his|our)\s+(?:kids|children)\s+(?:to\s+bed|in)",
    r"(?:pick|picking|picked|drop|dropping|dropped)\s+(?:up|off)\s+(?:the|my|her|his|our)\s+"
    r"(?:kids?|children)",
    # Adults talking about school years they left behind.
    r"high\s*school\s+(?:reunion|graduat\w*|diploma)", r"(?:high\s*school|college)\s+reunion",
    r"(?:since|after|out\s+of|graduated(?:\s+from)?|finished|left|dropped\s+out\s+of)\s+high\s*school",
)

# --- Ages -----------------------------------------------------------------------------------
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17,
}
ORDINAL_WORDS = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
)
# A number word after one of these is part of a larger number ("twenty five years old").
TENS_WORDS = frozenset({
    "twenty", "thirty", "forty", "fourty", "fifty", "sixty", "seventy", "eighty", "ninety",
    "hundred", "thousand", "million",
})

# Things that have ages: "a 15-year-old whisky", "my 10 year old laptop", "the house is 15
# years old". An age next to one of these is not a person's age.
THINGS = _word_set("""
whisky whiskey whiskies scotch bourbon rye malt rum wine wines port brandy cognac armagnac
tequila mezcal sake vintage bottle bottles cask casks barrel barrels cheese cheddar parmesan gouda
macallan glenfiddich glenlivet lagavulin laphroaig talisker balvenie ardbeg jameson
honda toyota ford bmw civic corolla mustang jeep subaru tesla mercedes volvo audi volkswagen
car cars truck van bike motorcycle motorbike laptop computer pc phone iphone console tv
television camera house home apartment building cabin castle mansion tree trees oak tradition
recipe game song album movie film show series book novel photo picture jacket coat shirt jeans
boots shoes sweater mattress couch sofa bed fridge guitar piano violin dog dogs cat cats horse
horses pony mare stallion puppy kitten parrot tortoise turtle goldfish pet pets company business
brand marriage relationship friendship rivalry feud grudge secret mystery scar tattoo habit
account server band franchise ship boat plane engine machine software code painting rug carpet
ruin ruins temple church city town village forest debt lease mortgage loan bond contract
tradition vineyard cellar recording tape vhs letter diary journal photograph sword blade armor
armour relic artifact artefact
""")

# People words: after an age ("a 15-year-old girl") they make it a person's age even when a
# thing follows ("a 15-year-old girl's car").
PEOPLE = _word_set("""
girl girls boy boys daughter daughters son sons sister brother stepdaughter stepsister stepson
stepbrother niece nephew cousin student students pupil schoolgirl schoolboy virgin kid kids
child children teen teens body bodies self me version cheerleader babysitter neighbor neighbour
runaway gymnast princess prince elf catgirl foxgirl twink femboy maid lass lad lolita cutie
patient character oc woman women man men lady guy female male person
""")

# --- Real people (image prompts) ------------------------------------------------------------
# Pointers to a real person other than a listed name. Deepfakes and face swaps are refused in
# any image prompt; the rest only with sexual context, because "my coworker's desk" or
# "celebrity-style red carpet" are ordinary requests.
REAL_PERSON_ALWAYS = r"(?<![a-z0-9])(?:deep[\s_-]*fakes?|face[\s_-]*swap(?:s|ped|ping)?)(?![a-z0-9])"
REAL_PERSON_SEXUAL = (
    r"(?<![a-z0-9])(?:celebrit(?:y|ies)|celebs?|"
    r"famous\s+(?:actress|actor|singer|model|rapper|streamer|youtuber|tiktoker|influencer|person|"
    r"people|athlete|politician|star|celebrity)|"
    r"real\s+(?:person|people|woman|man|girl|guy)|look-?alikes?|doppelg[a]e?ngers?|"
    r"my\s+(?:ex|ex-?(?:girlfriend|boyfriend|wife|husband|gf|bf)|co-?workers?|colleagues?|boss|"
    r"classmates?|neighbou?rs?|room-?mates?|crush|landlord|landlady|teacher|professor|"
    r"best\s+friend|sister-in-law|brother-in-law|friend'?s\s+(?:wife|girlfriend|mom|mum|sister|"
    r"husband|boyfriend))|"
    r"(?:this|the\s+attached|the\s+uploaded|my|her|his)\s+(?:photo|picture|pic|selfie|image)\s+of)"
    r"(?![a-z0-9])"
    # Social handles name a real account: "@username".
    r"|(?<![\w@])@[a-z0-9_.]{3,30}"
)
