"""Word lists behind stage 1, by category and language, each with the reason it looks as it does.

Notation (see `bot.safety.scan`): one entry per comma or line; spaces separate words; a trailing
`*` matches any ending; Chinese, Japanese and Korean entries match inside longer runs, `=word`
only as a whole Korean word with its particles. Entries are folded like the text (accents, case,
apostrophes), so they are written as people write them. Languages: en, es, pt, fr, de, it, nl,
pl, ru, ja (kana/kanji and romaji), zh, ko.

A few words mean something ordinary in another covered language ("kind" is English and German;
"geil" is "horny" in Dutch but "cool" in German). Those are listed in `GATED`, with the languages
in which they count; the rules only count them when language identification finds one of those
languages in the text.

Number words are not typed here: `bot.safety.numbers` generates them with `num2words`.
"""

from __future__ import annotations

__all__ = [
    "AFTER_OK",
    "AGE_KEY",
    "AGE_PHRASE",
    "AGE_UNIT",
    "BIRTH",
    "BIRTHDAY",
    "COPULA",
    "COPULA_PAST",
    "DEVELOPMENTAL",
    "DISCLAIMER_AFTER",
    "DURATION_AFTER",
    "DURATION_BEFORE",
    "FAMILY",
    "GATED",
    "HARD",
    "HARD_IN_RUNS",
    "HARD_NEGATABLE",
    "IMAGE_ONLY_MINOR",
    "MINOR",
    "MINOR_NEGATIVE_TERMS",
    "NEGATION",
    "NEGATION_CANCEL",
    "NEVER_MINOR",
    "NON_AGE_BEFORE",
    "PAST",
    "PEOPLE",
    "REAL_PERSON_ALWAYS",
    "REAL_PERSON_SEXUAL",
    "SAFE",
    "SCHOOL",
    "SCHOOL_NUMBER_AFTER",
    "SCHOOL_NUMBER_BEFORE",
    "THINGS",
    "UNDER",
    "YEARS",
    "YEARS_AFTER",
    "YEARS_AT",
    "YEARS_DURATION_AFTER",
    "YEARS_DURATION_BEFORE",
    "YEARS_OF",
    "entries",
]


def entries(block: str) -> list[str]:
    """A block of entries separated by commas or new lines."""
    return [e.strip() for line in block.splitlines() for e in line.split(",") if e.strip()]


# Negative-prompt terms against minor features, for every image request. This is the single copy:
# `bot.images.compose` puts it first in every negative prompt.
MINOR_NEGATIVE_TERMS = (
    "child, children, kid, minor, underage, teen, teenager, young-looking, childlike, "
    "childish proportions, baby face, loli, shota, schoolgirl, school uniform"
)

# --- Hard terms: refused anywhere, in any context -----------------------------------------------
# Words with no adult reading, used almost only to sexualise minors. They cannot be negated
# ("not a loli *wink*" is how they are smuggled in), except HARD_NEGATABLE ("no underage
# characters", "nadie es menor de edad").
HARD = entries("""
loli, lolis, lolicon, lolicons, loli con, lolishota, lolisho, roricon, rorikon, shota, shotas, shotacon,
shotacons, shota con, toddlercon, toddler con, jailbait, jail bait, preteen*, pre teen, pre teens, tween,
tweens, prepubescen*, pre pubescen*, prepubert*, pre pubert*, nymphet*, cunny, csam, pthc, child porn*,
childporn*, kiddie porn*, kiddy porn*, kid porn*, pedo, pedos, pedophil*, paedo, paedos, paedophil*, pedobear,
minor attracted, cub porn, preadolescente*, pre adolescente*, pedofil*, pedófil*, pornografía infantil,
pornografia infantil, prepúber*, impúber*, ninfeta*, ninfula*, préado, préados, préadolescent*, pédophil*,
pédopornograph*, pornographie infantile, impubère*, kinderporn*, kinderpornograf*, pädophil*, paedophil*,
vorpubertär*, pedopornograf*, pornografia minorile, kinderporno*, pedofiel*, prepuberaal, prepuberale,
pornografia dziecięca, małolat*, malolat*, лоли, лоликон, шота, шотакон, педофил*, детское порно,
детская порнография, малолетк*, ロリ, ろり, ロリコン, ショタ, しょた, ショタコン, 児童ポルノ, 児ポ, ペド, 萝莉,
蘿莉, 正太控, 恋童, 戀童, 儿童色情, 兒童色情, 幼女控, 로리, 로리콘, 쇼타, 쇼타콘, 소아성애, 아동포르노,
아동 포르노, 아청물, 아동성착취
""")
HARD_NEGATABLE = entries("""
underage, underaged, under age, under aged, menor de edad, menores de edad, menor de idade, menores de idade,
minderjährig*, minorenne, minorenni, minderjarig*, nieletni*, małoletni*, maloletni*, несовершеннолетн*
""")
# Looked for inside joined spaced-letter runs, where a stray letter removes the word boundary
# ("x l o l i" → "xloli"). Only terms that are never inside an ordinary word ("pedo" is inside
# "torpedo", "tween" inside "between").
HARD_IN_RUNS = ("loli", "shota", "jailbait", "preteen", "underage", "csam")
# Tokens that squeeze or fold onto a hard or minor word but are something else: Jamaican "shotta",
# the surname Kidd.
NEVER_MINOR = frozenset({"shotta", "shottas", "kidd", "kidds"})

# --- Minor words: a youth signal (judged with a sexual setting; refused in image prompts) ---------
# "minor" alone is usually an adjective ("a minor detail"), so only "a/the/any minor"-style pairs.
MINOR = entries("""
child, children, childs, childlike, child like, stepchild*, step child*, kid, kids, kiddo, kiddos, kiddie,
kiddies, kiddy, teen, teens, teenage, teenaged, teenager, teenagers, teenie, teenies, a minor, the minor,
any minor, minors, with a minor, little girl, little girls, little boy, little boys, little one, little ones,
young girl, young girls, young boy, young boys, young kid*, young child*, schoolgirl*, school girl,
school girls, schoolboy*, school boy, school boys, youngster*, juvenile*, adolescent*, adolescence, pubescent,
puberty, toddler*, infant*, newborn*, kindergartner*, kindergartener*, preschooler*, middle schooler*,
high schooler*, grade schooler*, elementary schooler*, lolita, lolitas, ddlg, abdl, ageplay, age play,
age regression, age regressed, littlespace, little space, cub, cubs, cp, barely pubescent, niña, niñas, niño,
niños, nena, nenas, nene, nenes, chiquilla*, chiquillo*, adolescentes, una menor, un menor, jovencita*,
jovencito*, colegiala*, púber, púberes, pubertad, crío, críos, chavalita*, criança*, menina, meninas, menino,
meninos, garotinha*, garotinho*, novinha*, novinho*, pivete*, pirralh*, puberdade, enfant, enfants, gamine*,
gamin, gamins, fillette*, petite fille, petites filles, petit garçon, petits garçons, ado, ados, adolescente*,
collégienne*, collégien*, lycéenne*, lycéen*, écolière*, écolier*, mineure, mineures, un mineur, des mineurs,
gosse, gosses, môme, mômes, puberté, pubère*, kleinkind*, kleines mädchen, kleine mädchen, kleinen mädchen,
kleiner junge, junges mädchen, jugendliche*, schülerin*, schulmädchen, göre, gören, pubertät, pubertierend*,
kindlich*, bambina, bambine, bambino, bambini, bimba, bimbe, ragazzina*, ragazzino*, ragazzine, ragazzini,
adolescenti, scolaretta*, scolaro, scolari, pubertà, una minore, un minore, kinderen, kindje*, klein meisje,
kleine meisjes, kleine jongen, jong meisje, tiener*, puber, pubers, scholier*, schoolmeisje*, kleuter*, dziecko,
dzieci, dziecka, dzieckiem, dzieciak*, dziewczynk*, chłopiec, chłopca, chłopczyk*, nastolat*, uczennic*, uczeń,
uczniowie, podlot*, gówniar*, ребенок, ребёнок, ребенк*, дети, детей, детям, детьми, девочк*, мальчик*,
мальчишк*, подрост*, школьниц*, школьник*, маленькая девочка, пубертат*, 子供, 子ども, こども, 少女, 幼女,
ようじょ, 女児, 男児, 児童, 少年, 幼児, 園児, 未成年, 十代, ローティーン, ティーン, 女子児童, ガキ, 小学生,
中学生, 女子中学生, 女子小学生, kodomo, shoujo, shojo, youjo, yojo, jidou, jido, miseinen, low teen, 孩子, 小孩,
儿童, 兒童, 小朋友, 小女孩, 小男孩, 女童, 男童, 幼童, 青少年, 未成年人, =아이, =애, =애들, 아동, 어린이, 어린애,
소녀, 소년, 꼬마, 미성년자, 미성년, 청소년, 잼민이, 유아
""")
# Only in image prompts, where they describe how a person looks.
IMAGE_ONLY_MINOR = entries("""
young looking, younger looking, baby face, baby faced, babyface, kid like, very young, extremely young,
super young, too young, tiny child*, small child*, child body, childish body, flat child*, childish proportions,
cara de niña, cara de niño, rosto de criança, carinha de criança, visage d'enfant, kindergesicht,
viso da bambina, 童顔, 童颜, 幼い顔, 동안
""")

# --- School levels: a youth signal; refused in image prompts --------------------------------------
# Places and stages only minors attend. College, university, campus, dorm and plain school /
# student / teacher are not here (adult roleplay uses them). Words that mean an adult place in
# another language are written in a phrase that only the minor meaning uses: French "collège"
# folds to English "college", so "au collège", "collégienne"; German "Gymnasium" is an English
# sports hall, so "am Gymnasium", "Gymnasiastin"; Spanish "ESO" is also "eso" ("that"), so
# "la ESO", "de la ESO"; "en seconde" but not "seconde".
SCHOOL = entries("""
middle school, middleschool, junior high, jr high, high school, highschool, elementary school, grade school,
primary school, secondary school, kindergarten, preschool, pre school, boarding school, prep school, jr. high,
nursery school, daycare, day care, sixth form, sixth former*, homeroom, school uniform*, school bus, prom,
prom night, recess, gcse, gcses, a levels, a level, year seven, year eight, year nine, year ten, year eleven,
key stage, freshman in high school, sophomore in high school, junior in high school, senior in high school,
hall monitor, middle schoolers, escuela primaria, escuela secundaria, secundaria, primaria, la eso, de la eso,
en la eso, bachillerato, instituto, colegio, preparatoria, prepa, guardería, kínder, jardín de infancia,
uniforme escolar, ensino fundamental, ensino médio, escola primária, colégio, creche, jardim de infância,
uniforme escolar, série, au collège, du collège, le collège, en sixième, en cinquième, en quatrième,
en troisième, en seconde, en première, en terminale, lycée, école primaire, école maternelle, maternelle,
brevet des collèges, cour de récré, uniforme scolaire, cartable, grundschul*, hauptschul*, realschul*,
gesamtschul*, am gymnasium, aufs gymnasium, auf dem gymnasium, ins gymnasium, gymnasiastin*, gymnasiast,
unterstufe, mittelstufe, oberstufe, kita, schulhof, schuluniform, ranzen, schulranzen, scuola media,
scuole medie, le medie, alle medie, scuola elementare, scuole elementari, le elementari, alle elementari, liceo,
liceale, liceali, asilo, scuola materna, ginnasio, grembiulino, brugklas, brugklasser*, middelbare school,
basisschool, kleuterschool, onderbouw, havo, vwo, vmbo, schoolplein, podstawówka, podstawówki, podstawówce,
szkoła podstawowa, szkole podstawowej, gimnazjum, gimnazjalist*, liceum, licealist*, przedszkole, przedszkolu,
technikum, ósmoklasist*, школа, школе, школы, школу, средняя школа, средней школе, старшеклассниц*,
старшеклассник*, детский сад, детском саду, школьная форма, школьной форме, восьмиклассниц*, девятиклассниц*,
седьмоклассниц*, десятиклассниц*, 小学校, 中学校, 高校, 中学, 小学, 幼稚園, 保育園, 女子高生, 高校生,
ランドセル, セーラー服, スク水, 体操服, ブルマ, chuugakusei, chugakusei, chuugakkou, chugakko, shougakusei,
shogakusei, shougakkou, shogakko, koukousei, kokosei, joshikousei, joshi kousei, joshikosei, joshi kosei, jk,
jc, js, randoseru, sukumizu, 初中, 高中, 中学生, 小学生, 高中生, 初中生, 幼儿园, 幼稚园, 校服, 学生妹, 初一,
初二, 初三, 高一, 高二, 高三, 초등학교, 초등학생, 초등, 중학교, 중학생, 고등학교, 고등학생, 유치원, 교복, 초딩,
중딩, 고딩, 여중생, 여고생, 여학생, 중1, 중2, 중3, 고1, 고2, 고3
""")
# A number right after these is a school year ("year 8", "grade 7", "Klasse 8", "groep 7").
SCHOOL_NUMBER_BEFORE = entries("""
year, years, grade, grades, klasse, klassen, class, groep, klas, klasa, klasy, класс, p, form, cm, ce, primary
""")
# A number right before these is a school year ("7th grade" → 7 th grade, "8. Klasse", "4e",
# "1º de la ESO", "8º ano", "7 класс").
SCHOOL_NUMBER_AFTER = entries("""
grade, grader, graders, th grade, th grader, klasse, klasa, klasie, класс, класса, классе, e, eme, ème, o eso,
o de eso, o de la eso, eso, o ano, ano, a série, serie, série, media, elementare, groep, klas
""")

# --- Developmental descriptions: a youth signal ---------------------------------------------------
DEVELOPMENTAL = entries("""
flat chested, flat chest, no breasts, no boobs, budding breasts, budding chest, training bra, first period,
hasnt started her period, no pubic hair, undeveloped, underdeveloped, not fully developed, still developing,
developing body, childlike body, child body, childs body, child's body, immature body, barely developed,
just started developing, hasnt hit puberty, hasn't hit puberty, before puberty, baby teeth, loose tooth,
prepubescent body, tiny undeveloped, pechos planos, sin pechos, cuerpo sin desarrollar, aún no desarrollada,
primera regla, sin vello, cuerpo infantil, cuerpo de niña, peito liso, sem seios, corpo infantil,
corpo de criança, primeira menstruação, ainda em desenvolvimento, poitrine plate, pas de seins, corps d'enfant,
premières règles, pas encore formée, flachbrüstig*, flache brust, kindlicher körper, kindlichen körper,
noch nicht entwickelt, erste periode, keine brüste, petto piatto, corpo da bambina, corpo infantile,
prime mestruazioni, non ancora sviluppata, platte borst, kinderlijk lichaam, nog niet ontwikkeld,
eerste menstruatie, płaska klatka, dziecięce ciało, dziecięcym ciałem, pierwsza miesiączka,
jeszcze nierozwinięta, плоская грудь, детское тело, детским телом, первые месячные, неразвит*, ещё не развита,
ぺったんこ, つるぺた, 初潮, 発育途中, 未発達, 幼い体, ロリ体型, 幼児体型, 第二次性徴, 平胸, 发育中, 發育中,
未发育, 未發育, 萝莉身材, 幼小的身体, 납작한 가슴, 미성숙, 초경, 발육, 어린 몸, 2차 성징
""")

# --- Age phrases: "under 18", "almost legal", arithmetic and euphemisms: a youth signal -----------
AGE_PHRASE = entries("""
minus, divided by, twice seven, twice six, twice eight, almost legal, nearly legal, not legal, barely legal,
not yet legal, age of consent, not old enough, too young to vote, cant vote yet, can't even drive,
before she could drive, still in diapers, sweet sixteen, quinceañera, quinceanera, quince años, xv años,
years younger than, years older than, half my age, half your age, half his age, in dog years, born the year,
born when, born after, born the same year, the year she was born, the year he was born, casi legal,
todavía no es legal, menor de 18, menores de 18, menos de 18, quase legal, menos de 18 anos, presque majeure,
pas encore majeure, moins de 18, fast volljährig, noch nicht volljährig, unter 18, quasi maggiorenne,
non ancora maggiorenne, sotto i 18, bijna legaal, bijna meerderjarig, onder de 18, prawie pełnoletnia,
jeszcze nie pełnoletnia, poniżej 18, почти совершеннолетн*, младше 18, меньше 18, 18歳未満, 18才未満, 18岁以下,
18歲以下, 18세 미만, 미자
""")
# "under", "younger than": with a number up to 18 they state a minor ("under 16").
UNDER = entries("""
under the age of, below the age of, under, below, younger than, less than, not yet, almost, nearly, not quite,
menor de, menos de, menores de, abajo de, moins de, unter, jünger als, sotto i, sotto, meno di, onder de,
jonger dan, poniżej, mniej niż, младше, меньше, моложе, до
""")
# A disclaimer after "under 18": "anyone under 18 must leave", "no one under 18 is allowed".
DISCLAIMER_AFTER = entries("""
must, should, please, cant, cannot, may not, not allowed, are not, is not, arent, isnt, banned, forbidden,
prohibited, leave, gtfo, get out, do not, dont, go away, allowed, welcome, verboten, prohibido, prohibidos,
interdit, vietato, verboden, zabronione, запрещено
""")

# --- Negation before a minor word ("no kids", "not a child", "sin menores") -----------------------
NEGATION = entries("""
no, not, never, nobody, none, without, zero, isnt, arent, wasnt, werent, aint, no one, noone, sin, ningún,
ninguna, nadie, sem, nenhum, nenhuma, ninguém, sans, pas, aucun, aucune, personne, ohne, kein, keine, keiner,
nicht, niemand, senza, nessun, nessuna, nessuno, non, zonder, geen, niet, niemand, bez, nie, żadn*, nikt, без,
не, нет, ни
""")
# "not a little girl anymore" is the grooming trope, not a negation.
NEGATION_CANCEL = entries("""
anymore, any more, any longer, yet, ya no, já não, plus, mehr, più, meer, już, уже
""")

# --- Safe phrases: minor words in idioms and in adults' ordinary talk ------------------------------
SAFE = entries("""
what sex means, what the word sex means, naked eye, naked truth, naked flame, naked mole rat, nude color,
nude colour, nude lipstick, nude heels, sex education, sex ed, sexual health, sex of the baby, biological sex,
sex: female, sex: male, sex: f, sex: m, sex = female, sex = male, sexo: femenino, sexo: feminino,
sexe : féminin, geschlecht, kid gloves, kid you not, kidding, new kid in town, new kid on the block, karate kid,
comeback kid, childs play, child's play, inner child, wild child, flower child, poster child, love child,
only child, middle child, eldest child, oldest child, youngest child, with child, child support, child custody,
child care, childcare, child labor laws, kid friendly, child friendly, family friendly, kid free, child free,
childproof, child proof, childhood, childless, kid rock, kid cudi, billy the kid, like a kid in a candy store,
like a kid on christmas, children of the night, child of the night, child of the gods, children of the gods,
child of destiny, child of prophecy, child of the stars, kids are asleep, kids are in bed, kids are at school,
kids are at camp, kids are grown, kids are grown up, kids are away, kids are out, children are asleep,
children are grown, put the kids to bed, put the kids down, tucked the kids in, picked up the kids,
pick up the kids, drop off the kids, dropped off the kids, mother of two, mother of three, father of two,
father of three, mom of two, dad of two, has kids, have kids, had kids, no kids, grown kids, grown children,
adult children, raising kids, raised kids, want kids, wants kids, high school reunion, high school graduation,
high school diploma, since high school, after high school, out of high school, graduated from high school,
graduated high school, finished high school, left high school, dropped out of high school, college reunion,
teen years are behind, teen years are over, cub scout*, cub reporter, bear cub, lion cub, wolf cub, fox cub,
cp time, minor detail, minor key, minor spoilers, minor injury, minor god, minor leader, minor character,
minor league, niños de la calle, tiene hijos, tengo hijos, mis hijos, sus hijos, meus filhos, mes enfants,
ses enfants, meine kinder, ihre kinder, i miei figli, mijn kinderen, moje dzieci, мои дети, 私の子供, 我的孩子,
우리 아이들
""")

# --- Ages ----------------------------------------------------------------------------------------
# After a number, these make it an age wherever it stands ("15 years old", "15 y/o", "15 años de
# edad", "15 Jahre alt", "15歳"). Chinese, Japanese and Korean units are read in `bot.safety.rules`
# (`_cjk_ages`). A bare "years" is in `YEARS`, not here: it is also a length of time.
AGE_UNIT = entries("""
years old, year old, year olds, and a half years old, and a half year old, and a half, yrs old, yr old,
years young, years of age, year of age, y o, yo, yos, months old, month old, weeks old, añitos, abriles,
primaveras, años de edad, aninhos, anos de idade, уо, у о, printemps, balais, ans d'âge, jahre alt, jährig*,
jährige*, lenze, anni di età, primavere, enne, jaar oud, jarig*, jarige, latka, latek, letni*, годик*, годков,
летн*, sai
""")
# A bare "years" after a number, in every covered language: an age only when it is attached to a
# person ("she is 14 years", "a 14 years girl", "girl, 14 years", "una chica de 14 años", "ей 14
# лет"), a length of time when a duration word is near ("14 years ago", "married 14 years"), and
# otherwise unclear (`bot.safety.rules`: a youth signal, judged with sexual words).
YEARS = entries("""
years, year, yrs, yr, años, año, anos, ans, jahre, jahren, anni, anno, jaar, lat, lata, лет, год, года
""")
# After "<number> years", these end the statement, so that a copula or a person before it states an
# age ("she is 14 years and…", "tiene 14 años y…"); anything else may go on into a length of time
# ("she is 14 years into her career", "you are 10 years too late", "he is 10 years my senior").
YEARS_AFTER = entries("""
and, but, &, now, already, today, tonight, lol, btw, y, e, ed, pero, ya, ahora, já, agora, mas, et, mais, déjà,
maintenant, und, aber, schon, jetzt, ma, già, ora, en, maar, al, nu, i, ale, już, teraz, и, но, а, уже, сейчас
""")
# Before "<number> years", these attach it to a person: a person word then "of"/"de"/"di"/"von" ("a girl
# of 14 years", "una chica de 14 años", "ein Mädchen von 13 Jahren"), and "at"-ages ("a los 14 años",
# "mit 14 Jahren", "в 14 лет"; not French "à", which folds onto "a").
YEARS_OF = frozenset(entries("""
of, de, di, von, van, del, della, dos, das, des, du
"""))
YEARS_AT = entries("""
at, at only, a los, a sus, aos, com, mit, alla, met, в
""")
# Before "<number> years", these make it a length of time even with no duration word after it
# ("married 14 years", "together 14 years", "I waited 10 years", "she's been 15 years in…"). Not
# Portuguese "há"/"faz" alone: they fold onto Italian "ha" and are "turns" ("faz 14 anos").
YEARS_DURATION_BEFORE = entries("""
married, together, been, known, dated, dating, waited, wait, spent, lasted, took, takes, worked, lived, served,
wasted, loved, wanted, craved, dreamed, dreamt, stayed, survived, single, sober, clean, than, casados, casadas,
juntos, llevamos, llevo, lleva, llevan, esperé, hace, desde, casados há, casadas há, casado há, casada há,
juntos há, juntas há, namorando há, depuis, ensemble, mariés, attendu, verheiratet, zusammen, gewartet, seit,
sposati, insieme, aspettato, getrouwd, samen, gewacht, razem, czekałem, czekałam, женаты, вместе, ждал, ждала,
these, those, took me, took her, took him, took us, took them, wife of, husband of, partner of, girlfriend of,
boyfriend of, lover of, fiance of, fiancee of, mujer de, esposa de, marido de, femme de, mari de, frau von,
mann von
""")
# After "<number> years" (and not after "years old"), these make it a length of time: "14 years
# of marriage", "10 years too late", "10 years my senior", "14 years into her career".
YEARS_DURATION_AFTER = entries("""
of, into, too, late, early, behind, ahead, overdue, long, apart, away, on, out, my senior, my junior,
his senior, his junior, her senior, her junior, your senior, your junior, their senior, their junior,
our senior, our junior, mayor, menor, de mayor, de menor, plus tôt, plus tard, älter, jünger, lang, di più,
più tardi, prima, dopo, lang geleden, geleden, temu, назад, спустя, de edad de diferencia, de diferencia,
de différence, unterschied, di differenza, verschil, różnicy, разницы
""")
# Before a number, these make it an age: card fields and "at the age of".
AGE_KEY = entries("""
age, aged, ages, how old are you, how old is she, how old is he, how old r u, girl of, boy of, child of, kid of,
daughter of, son of, asl, a s l, bio, edad, idade, âge, lage, dage, alter, alters, età, eta, leeftijd, wiek,
wieku, возраст, возрасте, 年齢, 年龄, 年紀, 나이, 연령
""")
# Subject and verb before a bare age: "she's 15", "I am 14", "sie ist 15", "ze is 15", "ей 15".
COPULA = entries("""
who is, whos, girl is, boy is, kid is, child is, character is, my character is, oc is, my oc is, she is just,
looks, look, looking, looked, looks like, looks like shes, looks like hes, looks about, appears, appear,
passes for, pass for, could pass for, pass as, seems, the body of a, body of a, im, i am, shes, she is, hes,
he is, youre, you are, ur, u r, u are, theyre, they are, turned, turns, turning, just turned, tiene, tengo,
tienes, cumplió, cumple, cumplirá, tem, tenho, tens, fez, faz, completou, elle a, il a, jai, tu as, tas,
elle a eu, il a eu, sie ist, er ist, ich bin, du bist, wird, wurde, ha, ho, hai, compie, ha compiuto, ze is,
zij is, hij is, ik ben, jij bent, je bent, wordt, werd, ma, mam, masz, skończyła, skończył, мне, ей, ему, тебе,
исполнилось
""")
# Past forms: an age in a memory ("when I was 15") is judged with sexual content, never refused.
COPULA_PAST = entries("""
i was, she was, he was, you were, we were, they were, when i was, since i was, when she was, since she was,
cuando tenía, cuando tenia, tenía, quando tinha, tinha, quand javais, javais, elle avait, il avait, als ich,
als sie, ich war, sie war, er war, quando avevo, avevo, aveva, toen ik, toen ze, ik was, ze was, kiedy miałam,
kiedy miałem, miałam, miała, когда мне было, мне было, ей было
""")
# After a bare number, these let it read as an age ("Mia is 13 and ...", "at 15 she ...").
AFTER_OK = entries("""
shes, hes, im, its, theyre, youre, were, right, ok, okay, yeah, yes, huh, remember, last, this, yesterday,
recently, and, but, when, so, yet, now, already, today, tonight, though, btw, lol, lmao, too, soon, next,
in this, she, he, i, they, we, you, y, pero, e, mas, et, mais, und, aber, doch, ma, en, maar, i, ale, a, и, но,
а, ella, él, elle, il, sie, er, lei, lui, ze, zij, hij, ona, on, она, он, already, ya, já, déjà, schon, già, al,
już, уже
""")
# Before a bare number, these make it something else: a room, a page, a price, a time, a count.
NON_AGE_BEFORE = entries("""
room, floor, page, chapter, size, number, no, nr, level, lvl, season, episode, ep, part, vol, volume, top, rank,
score, table, seat, bus, line, step, day, round, stage, act, scene, verse, track, apartment, apt, x, plus,
minus, times, till, until, gate, platform, channel, zimmer, seite, kapitel, habitación, página, capítulo,
chambre, stanza, pagina, kamer, strona, pokój, комната, страница, глава, номер, nummer, número, numéro, numero,
out of, of, #, €, £, ¥, %, it is, its, it was, thats, that is, there are, there were, hora, las, heure, heures,
uhr, ore, uur, godzina
""")
# Duration: "15 years ago", "for 15 years", "seit 15 Jahren" is not an age.
DURATION_BEFORE = entries("""
hace, il y a, depuis, seit, vor, da, od, через, for, durante, pendant, während, per, przez, sinds, over, in,
within, after, past, last, next, every
""")
DURATION_AFTER = entries("""
ago, later, earlier, before, after, of marriage, of experience, together, apart, married, in prison, atrás, fa,
geleden, temu, назад, younger, older, since, sober, clean, of service, of practice, running, straight, in a row,
experience, of my life, of her life, of his life, of our lives, of relationship, of dating, in the business,
juntos, juntas, de casados, de casada, de casado, de matrimonio, de relación, de casamento, de relação,
casados, ensemble, de mariage, de vie commune, zusammen, verheiratet, ehe, beziehung, insieme, sposati,
di matrimonio, di relazione, samen, getrouwd, razem, po ślubie, małżeństwa, вместе, брака, в браке
""")
# "16th birthday", "cumpleaños", "Geburtstag": an ordinal or number before these is an age.
BIRTHDAY = entries("""
birthday, bday, b day, cumpleaños, aniversário, anniversaire, geburtstag, compleanno, verjaardag, urodziny,
день рождения, 誕生日, 生日, 생일
""")
# Birth: a year after these is a birth year ("born in 2011", "DOB 2011-04-02", "Jahrgang 2011").
BIRTH = entries("""
nació, nacio, nasceu em, nació en, nacido el, geboren in, geboren op, born, born in, born on, b, dob, d o b,
date of birth, birth date, birthdate, birth year, birthyear, year of birth, birthday, nacida, nacido, nacida en,
nacido en, fecha de nacimiento, año de nacimiento, nasceu, nascida, nascido, nascida em, data de nascimento,
née, né, née en, née le, date de naissance, année de naissance, geboren, geboren am, geboren im, geburtsjahr,
geburtsdatum, jahrgang, nata, nato, nata nel, nato nel, data di nascita, anno di nascita, geboortedatum,
geboortejaar, geboren op, urodzona, urodzony, urodzona w, data urodzenia, rok urodzenia, rocznik, родилась,
родился, родилась в, дата рождения, год рождения, 生まれ, 生年月日, 出生, 出生于, 出生日期, 생년월일, 출생,
년생, 년도생
""")

# --- Context of a number: a thing, a person, family ---------------------------------------------
# Things that have ages: "a 15-year-old whisky", "the house is 15 years old".
THINGS = frozenset(entries("""
whisky, whiskey, whiskies, scotch, bourbon, rye, malt, rum, wine, wines, port, brandy, cognac, armagnac,
tequila, mezcal, sake, vintage, macallan, glenfiddich, glenlivet, lagavulin, laphroaig, talisker, balvenie,
ardbeg, jameson, single malt, honda, toyota, ford, bmw, civic, corolla, mustang, jeep, subaru, tesla, volvo,
audi, bottle, bottles, cask, casks, barrel, barrels, cheese, cheddar, parmesan, gouda, car, cars, truck, bike,
motorcycle, laptop, computer, pc, phone, console, tv, camera, house, home, apartment, building, cabin, castle,
mansion, tree, trees, oak, tradition, recipe, game, song, album, movie, film, show, series, book, novel, photo,
picture, jacket, coat, shirt, jeans, boots, shoes, sweater, mattress, couch, sofa, bed, fridge, guitar, piano,
violin, dog, dogs, cat, cats, horse, horses, pony, mare, stallion, puppy, kitten, parrot, tortoise, turtle,
goldfish, pet, pets, company, business, brand, marriage, relationship, friendship, rivalry, feud, grudge,
secret, scar, tattoo, habit, account, server, band, franchise, ship, boat, plane, engine, machine, software,
code, painting, rug, carpet, ruin, ruins, temple, church, city, town, village, forest, debt, lease, mortgage,
loan, bond, contract, vineyard, cellar, recording, tape, letter, diary, journal, photograph, sword, blade,
armor, armour, relic, vino, vinho, vin, wein, wijn, wino, вино, виски, coche, carro, voiture, auto, macchina,
samochód, машина, casa, maison, haus, huis, dom, дом, perro, cachorro, chien, hund, cane, hond, pies, собака,
gato, chat, katze, gatto, kat, kot, кошка
"""))
# People words: after an age ("a 15-year-old girl") they make it a person's age.
PEOPLE = frozenset(entries("""
girl, girls, boy, boys, daughter, son, sister, brother, stepdaughter, stepsister, stepson, stepbrother, niece,
nephew, cousin, student, pupil, schoolgirl, schoolboy, virgin, kid, kids, child, teen, body, cheerleader,
babysitter, neighbor, neighbour, gymnast, princess, prince, elf, catgirl, twink, femboy, maid, cutie, character,
oc, woman, women, man, men, lady, guy, female, male, person, chica, chico, niña, niño, hija, hijo, menina,
menino, garota, garoto, filha, filho, fille, garçon, mädchen, junge, tochter, sohn, ragazza, ragazzo, figlia,
figlio, meisje, jongen, dochter, zoon, dziewczyna, dziewczynka, chłopak, córka, syn, девушка, девочка, парень,
мальчик, дочь, сын, 少女, 女の子, 男の子, 女孩, 男孩, 소녀, 소년
"""))
# A family or a memory makes a stated child age plainly non-sexual when no sexual word is near.
FAMILY = entries("""
daughter, daughters, son, sons, my kid, my kids, our kid, our kids, my child, my children, niece, nephew,
grandson, granddaughter, grandchild*, stepdaughter, stepson, my little sister, my little brother, my sister,
my brother, baby sister, baby brother, hija, hijo, hijos, sobrina, sobrino, nieta, nieto, filha, filho, filhos,
sobrinha, ma fille, mon fils, nièce, neveu, tochter, sohn, nichte, neffe, enkel*, figlia, figlio, nipote,
dochter, zoon, nichtje, neefje, córka, córki, syn, syna, wnuczk*, дочь, дочка, дочери, сын, сына, внучк*, 娘,
息子, 女儿, 儿子, 딸, 아들, birthday party, party, whisky, cake, candles, soccer, football, piano lessons,
homework, vaccin*, doctor, pediatrician, school play, school trip, report card, drawing, puzzle, lego, zoo,
playground, parque, parc, spielplatz, parco, speeltuin, plac zabaw, площадка
""")
PAST = entries("""
when i was, back when i was, years ago, back then, as a kid, as a child, growing up, when she was, when he was,
cuando tenía, cuando era, quando tinha, quando era, quand javais, quand jétais, als ich, als kind, quando avevo,
da bambina, da bambino, toen ik, als kind, kiedy miałam, kiedy miałem, jako dziecko, когда мне было, в детстве,
子供の頃, 小时候, 어렸을 때
""")

# --- Real people (image prompts) ------------------------------------------------------------------
# Pointers to a real person other than a listed name. Deepfakes and face swaps are refused in any
# image prompt; the rest only with sexual words, because "my coworker's desk" is ordinary.
REAL_PERSON_ALWAYS = entries("""
deepfake, deepfakes, deep fake, deep fakes, faceswap*, face swap*
""")
REAL_PERSON_SEXUAL = entries("""
celebrity, celebrities, celeb, celebs, famous actress, famous actor, famous singer, famous model, famous rapper,
famous streamer, famous youtuber, famous tiktoker, famous influencer, famous person, famous people,
famous athlete, famous politician, famous star, real person, real people, real woman, real man, real girl,
real guy, lookalike, lookalikes, look alike, doppelganger*, my ex, my ex girlfriend, my ex boyfriend,
my ex wife, my ex husband, my exgirlfriend, my exboyfriend, my coworker, my coworkers, my co worker,
my colleague, my colleagues, my boss, my classmate, my classmates, my neighbour, my neighbor, my neighbours,
my neighbors, my roommate, my room mate, my crush, my landlord, my landlady, my teacher, my professor,
my best friend, my sister in law, my brother in law, my friends wife, my friends girlfriend, my friends mom,
my friends mum, my friends sister, this photo of, this picture of, this pic of, this selfie of,
the attached photo, the uploaded photo, my photo of, her photo, his photo
""")

# --- Words that count only in some languages -------------------------------------------------------
# (category, entry, languages): "kind" is a child in German and Dutch, a sort in English.
GATED: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("minor", "kind", frozenset({"de", "nl"})),
    ("minor", "kinder", frozenset({"de"})),
    ("minor", "kindes", frozenset({"de"})),
    ("minor", "schüler", frozenset({"de"})),
    ("minor", "menores", frozenset({"es", "pt"})),
    ("minor", "adolescente", frozenset({"es", "pt", "it"})),
    ("minor", "mineur", frozenset({"fr"})),
    ("minor", "mineurs", frozenset({"fr"})),
    ("school", "escola", frozenset({"pt"})),
    ("school", "escuela", frozenset({"es"})),
    ("school", "école", frozenset({"fr"})),
    ("school", "schule", frozenset({"de"})),
    ("school", "scuola", frozenset({"it"})),
    ("school", "szkoła", frozenset({"pl"})),
    ("school", "szkole", frozenset({"pl"})),
    ("school", "collège", frozenset({"fr"})),
    ("school", "gymnasium", frozenset({"de", "nl"})),
    ("school", "medie", frozenset({"it"})),
)
