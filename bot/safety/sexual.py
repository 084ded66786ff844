"""Sexual vocabulary in every covered language, in two strengths (notation: `bot.safety.scan`).

- `STRONG`: words that make a passage sexual on their own (sex, porn, nude, genitals, sex acts,
  arousal, undressing). A stated minor age next to one of these is refused outright.
- `SETTING`: romance, euphemisms and suggestive words ("kiss", "sleep with", "first time", "spend
  the night", "our little secret", "sit on my lap"): a sexual setting, never enough to refuse,
  enough to send a youth signal to the judge.
- `IMAGE_EXTRA`: clothing that is ordinary in a story but the sexualising detail in a picture.

Words that are also ordinary words are left out or listed in their sexual forms only ("lust" but
not "lustre"); expletives ("fuck the kids, I'm going out", "cazzo", "kurwa") are in `SETTING`, since
they are not about sex. Plain body words ("chest", "skin", "body") and "bed" are left out:
they sit next to children in ordinary family text all the time.
"""

from __future__ import annotations

from bot.safety.lexicon import entries

__all__ = ["EMOJI", "IMAGE_EXTRA", "SETTING", "STRONG"]

STRONG = entries("""
want to fuck, wanna fuck, lets fuck, to fuck her, to fuck him, fuck her, fucking her, sex, sexy, sexier,
sexiest, sexual*, sexting, sext, sexts, sexted, seggs, secks, nsfw, nude, nudes, nudity, nudist*, naked*, lewd*,
horny, horni*, aroused, arousal, arousing, erotic*, porn*, hentai, smut*, xxx, penis*, vagina*, vulva*, clit,
clits, clitoris, cunt*, titties, titty, boobs, boobies, nipple*, areola*, cum, cums, cumming, cummed, cumshot*,
semen, sperm, jizz*, orgasm*, climaxed, climaxing, masturbat*, wank*, jerk off, jerking off, jerked off,
jack off, jacking off, handjob*, blowjob*, blow job*, rimjob*, deepthroat*, anal, oral sex, sixty nine, bdsm,
fetish*, kink*, erection*, boner*, hard on, slut*, whore*, stripper*, striptease*, strip naked, stripped naked,
strips for, stripped for, stripping for, undress*, disrobe*, lingerie, panties, panty, thong, thongs, topless,
bottomless, grope, gropes, groped, groping, fondl*, penetrat*, seduc*, make love, making love, made love,
makes love, lovemaking, foreplay, lust, lusts, lustful, lusting, lusted, creampie*, impregnat*, rape, raped,
raping, rapes, rapist*, molest*, virginity, deflower*, ahegao, futa, futanari, bukkake, gangbang*, threesome*,
orgy, orgies, cunnilingus, fellatio, dildo*, vibrator*, buttplug*, butt plug*, sex toy*, genital*, pubic, pubes,
crotch*, humping, humped, onlyfans, camgirl*, prostitut*, fuck her, fuck him, fuck me, fuck you, fucked her,
fucked him, fucking her, fucking him, fucks her, fucks him, have sex, had sex, having sex, lose her virginity,
lost her virginity, pop her cherry, pleasure herself, pleasure himself, touch herself, touches herself,
touching herself, spread her legs, spreads her legs, take off her clothes, takes off her clothes,
took off her clothes, pull down her panties, between her legs, sexo, sexual, sexuales, follar, follando,
follarla, follarle, follarte, follame, fóllame, follada, cogerla, cogerte, cogiendo, chingar*, desnuda, desnudo,
desnudas, desnudos, desnudarse, desnudándose, desnud*, porno, pornografía, erótic*, cachonda, cachondo,
cachondas, excitada, excitado, tetas, polla, verga, pene, coño, chocho, mamada, mamadas, correrse, se corre,
corrida, orgasmo*, masturb*, pajearse, paja mental, violar, violación, virginidad, desvirgar*, lencería, bragas,
tanga, puta, putas, zorra, guarra, hacer el amor, haciendo el amor, hicieron el amor, transar, transando,
transou, transa, foder, fodendo, fodeu, fode, nua, nuas, pelada, peladinha, pornô, putaria, tesão, tesuda,
tesudo, excitad*, safada, safado, peitos, rola, buceta, boceta, xoxota, punheta, gozar, gozou, gozando, estupr*,
virgindade, calcinha, vadia, fazer amor, fazendo amor, boquete, siririca, sexe, sexuel*, baiser, baise, baisé,
baisée, nue, nues, déshabill*, érotique*, excitée, nichons, seins, vagin, pénis, fellation, jouir, orgasme*,
branler*, branlette, viol, violer, violée, virginité, culotte, salope*, pute, putes, faire l'amour,
fait l'amour, font l'amour, coucher avec, couché avec, couche avec, partie de jambes en l'air, ficken, fickt,
fickte, gefickt, vögeln, gevögelt, bumsen, gebumst, nackt*, erotisch*, erregt, titten, muschi, fotze, möse,
pimmel, orgasmus, wichsen, wichst, vergewaltig*, jungfräulichkeit, entjungfer*, dessous, höschen, schlampe,
hure, nutte, liebe machen, mit ihr schlafen, mit ihm schlafen, mit mir schlafen, zieht sich aus, sesso,
sessuale, sessuali, scopare, scopata, scopato, scoparla, scoparlo, chiavare, trombare, nuda, nudo, nudi,
erotico, erotica, eccitata, eccitato, arrapata, arrapato, tette, figa, fica, pompino, pompini, stupro,
violentare, verginità, mutandine, perizoma, troia, puttana, zoccola, fare l'amore, fanno l'amore,
andare a letto con, seks, seksueel, seksuele, neuken, neukt, geneukt, naakt, erotisch, opgewonden, tieten,
orgasme, aftrekken, verkracht*, maagdelijkheid, ontmaagd*, slipje, slet, hoer, de liefde bedrijven,
naar bed met, seksu, seksem, seksualn*, seksown*, pieprzyć, ruchać, rucha*, bzykać, bzyka*, pierdol*, naga,
nagi, nago, nagie, erotyczn*, napalona, napalony, podniecona, podniecony, cycki, kutas, cipka, cipa, pizda,
pochwa, orgazm*, zgwałci*, gwałt*, dziewictwo, stringi, dziwka, kochać się, kochali się, uprawiać seks,
uprawiali seks, секс*, сексуальн*, трахать, трахнуть, трахал*, трахает, трах, ебать, ебал*, выеб*, голая, голый,
голые, голышом, обнаженн*, раздева*, разделась, порно*, эротик*, эротичн*, эротическ*, возбужд*, сиськи, пизд*, вагин*,
пенис*, минет*, отсос*, оргазм*, мастурб*, дроч*, изнасил*, девственност*, трусики, стринги, шлюха,
заняться любовью, занимались любовью, заниматься сексом, занимались сексом, переспать, переспали, переспал,
セックス, せっくす, エッチ, えっち, 性的, 性交, 全裸, ヌード, エロ, えろ, ポルノ, 官能, 淫ら, 淫乱, 乳首,
おっぱい, 巨乳, ちんぽ, ちんこ, まんこ, 挿入, 中出し, フェラ, 射精, 絶頂, オナニー, 自慰, 強姦, レイプ, 犯す,
犯さ, 犯して, 痴漢, 援交, 援助交際, 発情, 裸に, 裸で, 裸の, 脱がせ, 脱がし, sekkusu, ecchi, etchi, oppai,
chinpo, manko, nakadashi, onani, 做爱, 做愛, 性交, 性爱, 性愛, 色情, 裸体, 裸體, 裸照, 脱光, 脫光, 奶子, 鸡巴,
雞巴, 阴茎, 陰莖, 阴道, 陰道, 口交, 射精, 自慰, 手淫, 强奸, 強姦, 强暴, 色色, 涩涩, 啪啪啪, 约炮, 約炮, 性感,
淫荡, 淫蕩, 发情, 發情, 胸部裸露, 섹스, 성관계, 성행위, 야한, 야동, 포르노, 알몸, 나체, 누드, 젖꼭지, 보지,
자지, 성기, 삽입, 오르가즘, 자위, 강간, 성폭행, 팬티, 야해, 야하게, 꼴려, 따먹, 애무, 음란, 섹시
""")

SETTING = entries("""
virgin, virgins, twink, twinks, succubus, incubus, femboy, kochać, kochac, share his bed, share her bed,
shares her bed, sharing his bed, sharing her bed, hacerle el amor, hacerte el amor, se acuesta con,
pasan la noche, pasar la noche juntos, schlafen, schläft, schlief, naar bed, переспит, переспим, переспать*,
cock, cocks, dick, dicks, pussy, pussies, tits, hooker*, bondage, kiss, kisses, kissed, kissing, into his bed,
into her bed, in his bed, in her bed, into my bed, in my bed, into bed with, in bed with, to bed with,
share a bed, shares his bed, shared a bed, into your bed, in your bed, make out, makes out, making out,
made out, flirt*, romance, romantic*, sensual*, intimate, intimately, intimacy, caress*, sleep with,
sleeps with, slept with, sleeping with, spend the night, spent the night, night together, first time, do it,
doing it, get intimate, hook up, hooks up, hooked up, hooking up, hookup*, turned on, turns me on,
hot and bothered, in heat, moan*, bedroom, cuddle*, touch me, touch her, touches her, touched her, touching her,
touch him, touched him, sit on my lap, on my lap, on daddy's lap, on daddys lap, spank*, naughty, tease,
teasing, seductive*, sultry, provocative*, breasts, butt, ass, thighs, netflix and chill, go all the way,
went all the way, bump uglies, get lucky, the deed, do the deed, roll in the hay, hanky panky,
between the sheets, under the covers, make her a woman, make him a man, special cuddle*, our little secret,
our secret, secret game, don't tell mommy, dont tell mommy, don't tell your mom, dont tell your mom,
don't tell anyone, dont tell anyone, girlfriend, boyfriend, lover, lovers, date night, explicit, explicitly,
clothes off, pants off, panties off, shirt off, take your pants off, take off your pants, take your clothes off,
take off your clothes, shower together, bath together, take a bath with, wet, fuck, fucking, fucked, fucks,
shit, damn, bikini, swimsuit, undies, underwear, bra, strip, strips, stripped, stripping, bare, desire, desires,
passion*, besar, besarla, besarlo, besándola, beso, besos, acostarse con, se acostó con, acostarme con,
dormir con, pasar la noche, primera vez, hacerlo, lo hicimos, coquetear, romántic*, caricias, acariciar*,
tocarla, tocarle, tocarte, cositas, en mis piernas, caliente, bikini, novia, novio, nuestro secreto, coger,
chupar*, pechos, culo, beijar*, beijo*, beijos, dormir com, primeira vez, ficar com, namorad*, carícias,
acariciar, nosso segredo, no colo, biquíni, peito, pau, pica, trepar, embrass*, bisou*, câlin*, caress*,
draguer, flirter, romanti*, nuit ensemble, première fois, le faire, petite amie, petit ami, notre secret,
sur mes genoux, maillot, chaude, chaud, queue, chatte, sucer, pipe, string, nu, nus, pucelle, küss*, kuss,
knutsch*, streichel*, kuscheln, romantisch*, romanze, erstes mal, das erste mal, unser geheimnis,
auf meinen schoß, auf meinem schoß, badeanzug, geil, geile, geiler, brüste, schwanz, scheide, blasen,
unterwäsche, ausziehen, bett, baci*, bacio, coccol*, accarezz*, romantic*, prima volta, il nostro segreto,
sulle mie ginocchia, costume, seno, cazzo, succhiare, sega, letto, zoen*, kus, kussen, vrijen, knuffel*,
strelen, eerste keer, ons geheimpje, ons geheim, borsten, lul, pik, kut, pijpen, całow*, pocałun*, przytul*,
pieszcz*, romantyczn*, pierwszy raz, nasz sekret, na kolanach, piersi, chuj, kurwa, loda, bielizna, majtki,
łóżko, łóżka, łóżku, поцел*, целова*, целу*, обним*, ласка*, ласкать, флирт*, романти*, первый раз, наш секрет,
на коленях, бикини, купальник, в постели, спать с, грудь, член, хуй, киска, нижнее белье, сучка, キス, 口づけ,
添い寝, 一線を越え, 色っぽい, 誘惑, 抱いて, 抱く, 処女, 下着, パンツ, ぱんつ, 脱ぐ, 脱いで, 濡れ, 喘, 裸,
パパ活, ビッチ, 水着, 貧乳, 亲吻, 接吻, 上床, 开房, 開房, 诱惑, 誘惑, 处女, 處女, 内衣, 內衣, 内裤, 內褲, 高潮,
乳房, 睡了她, 泳装, 키스, 뽀뽀, 잠자리, 첫경험, 유혹, 모텔, 벗은, 벗겨, 벗고, 가슴, 처녀, 속옷, 흥분, 박아,
빨아, 야릇, 수영복, 비키니
""")

# Emoji used as sexual shorthand.
EMOJI = ("🍆", "💦", "🍑", "🔞", "👅")

IMAGE_EXTRA = entries("""
bikini*, swimsuit*, bathing suit*, see through, sheer, wet t shirt, pin up, pinup, boudoir, seductive*,
spread legs, bedroom eyes, underwear, bra, short skirt, miniskirt, tight dress, bañador, biquíni,
maillot de bain, badeanzug, costume da bagno, badpak, strój kąpielowy, купальник, 水着, 泳装, 泳衣, 수영복,
비키니
""")
