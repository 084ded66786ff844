"""Well-known real people whose names may not appear in an image prompt.

The bot's image model is an adult model, so a picture of a named real person risks being sexual
whatever the prompt says; DESIGN §5 forbids sexual imagery of real, named people. A curated list
catches the names people actually try (actors, singers, models, athletes, politicians, royals,
streamers and influencers); nobody can list everyone, so the patterns in `lexicon` also catch
"celebrity", "deepfake", "my coworker" and social handles.

One name per line, as commonly written. Names are matched as whole words after normalisation
(accents and punctuation folded: "Beyoncé" = "beyonce", "Ocasio-Cortez" = "ocasio cortez") and
also with the spaces removed ("taylorswift", as in a handle). Single-word entries are only for
names that are not also ordinary words or common first names ("Drake", "Madonna" and "Cher" are
left out for that reason).
"""

from __future__ import annotations

REAL_PEOPLE = """
scarlett johansson
emma watson
emma stone
jennifer lawrence
margot robbie
gal gadot
ana de armas
sydney sweeney
zendaya
florence pugh
anya taylor-joy
jenna ortega
millie bobby brown
natalie portman
angelina jolie
jennifer aniston
jennifer lopez
megan fox
kate upton
emily ratajkowski
kendall jenner
kylie jenner
kris jenner
kim kardashian
khloe kardashian
kourtney kardashian
kardashian
kardashians
bella hadid
gigi hadid
hailey bieber
hailey baldwin
selena gomez
ariana grande
taylor swift
billie eilish
olivia rodrigo
dua lipa
sabrina carpenter
doja cat
cardi b
nicki minaj
megan thee stallion
ice spice
beyonce
rihanna
shakira
lady gaga
katy perry
miley cyrus
demi lovato
lana del rey
charli xcx
lizzo
adele adkins
madison beer
addison rae
charli d'amelio
dixie d'amelio
loren gray
bhad bhabie
danielle bregoli
jojo siwa
emma chamberlain
pokimane
imane anys
amouranth
kaitlyn siragusa
belle delphine
corinna kopf
alinity
valkyrae
sssniperwolf
indiefoxx
pewdiepie
felix kjellberg
mrbeast
mr beast
jimmy donaldson
markiplier
xqc
felix lengyel
kai cenat
ishowspeed
logan paul
jake paul
tyler blevins
hasan piker
hasanabi
adin ross
sommer ray
tana mongeau
james charles
jeffree star
david dobrik
trisha paytas
pamela anderson
carmen electra
salma hayek
sofia vergara
eva mendes
eva longoria
penelope cruz
monica bellucci
charlize theron
nicole kidman
cate blanchett
kate winslet
keira knightley
anne hathaway
emma roberts
julia roberts
sandra bullock
reese witherspoon
halle berry
jessica alba
jessica biel
mila kunis
kristen stewart
kristen bell
kaley cuoco
alison brie
elizabeth olsen
mary-kate olsen
ashley olsen
brie larson
karen gillan
zoe saldana
dakota johnson
dakota fanning
elle fanning
chloe grace moretz
hailee steinfeld
saoirse ronan
lily james
lily collins
lily-rose depp
emilia clarke
sophie turner
maisie williams
natalie dormer
lena headey
jenna coleman
daisy ridley
alexandra daddario
sarah hyland
ariel winter
victoria justice
vanessa hudgens
ashley tisdale
hilary duff
lindsay lohan
britney spears
christina aguilera
jennifer love hewitt
sarah michelle gellar
alyssa milano
zooey deschanel
amanda seyfried
rachel mcadams
blake lively
leighton meester
mandy moore
olivia wilde
olivia munn
emily blunt
emily browning
rooney mara
mia goth
jenna fischer
madelyn cline
hunter schafer
maude apatow
alexa demie
barbara palvin
adriana lima
gisele bundchen
heidi klum
tyra banks
naomi campbell
kate moss
cara delevingne
candice swanepoel
miranda kerr
alessandra ambrosio
irina shayk
chrissy teigen
ashley graham
winnie harlow
sofia richie
paris hilton
nicole richie
kate middleton
catherine middleton
meghan markle
lady diana
diana spencer
pippa middleton
queen elizabeth
prince harry
prince william
charles iii
chris evans
chris hemsworth
chris pratt
chris pine
tom holland
tom hiddleston
tom cruise
tom hardy
brad pitt
leonardo dicaprio
johnny depp
keanu reeves
ryan reynolds
ryan gosling
henry cavill
timothee chalamet
jacob elordi
zac efron
harry styles
jason momoa
dwayne johnson
idris elba
michael b jordan
pedro pascal
oscar isaac
cillian murphy
robert pattinson
daniel radcliffe
rupert grint
jensen ackles
jared padalecki
misha collins
benedict cumberbatch
tom felton
jamie dornan
channing tatum
hugh jackman
robert downey
mark ruffalo
jeremy renner
sebastian stan
anthony mackie
paul rudd
andrew garfield
tobey maguire
matt damon
ben affleck
george clooney
will smith
jaden smith
willow smith
jonah hill
seth rogen
adam sandler
jim carrey
steve carell
john krasinski
bradley cooper
jake gyllenhaal
austin butler
glen powell
paul mescal
barry keoghan
jeremy allen white
justin bieber
shawn mendes
nick jonas
joe jonas
weeknd
abel tesfaye
travis scott
kanye west
jay-z
eminem
snoop dogg
post malone
machine gun kelly
pete davidson
jungkook
jennie kim
lalisa manoban
rosalia
lionel messi
cristiano ronaldo
neymar
lebron james
michael jordan
serena williams
venus williams
simone biles
alex morgan
megan rapinoe
tom brady
travis kelce
patrick mahomes
caitlin clark
naomi osaka
maria sharapova
eugenie bouchard
ronda rousey
paige vanzant
conor mcgregor
usain bolt
olivia dunne
livvy dunne
sunisa lee
kylian mbappe
erling haaland
donald trump
melania trump
ivanka trump
barron trump
joe biden
jill biden
hunter biden
biden
kamala harris
barack obama
michelle obama
obama
hillary clinton
bill clinton
alexandria ocasio-cortez
nancy pelosi
marjorie taylor greene
lauren boebert
sarah palin
ron desantis
jd vance
j d vance
elon musk
mark zuckerberg
jeff bezos
bill gates
vladimir putin
putin
volodymyr zelensky
zelensky
zelenskyy
emmanuel macron
brigitte macron
justin trudeau
rishi sunak
boris johnson
keir starmer
angela merkel
giorgia meloni
narendra modi
xi jinping
kim jong un
greta thunberg
kristi noem
tulsi gabbard
nikki haley
pete buttigieg
bernie sanders
mike pence
karoline leavitt
liz truss
jacinda ardern
pope francis
"""
