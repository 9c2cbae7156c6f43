"""Month names of `date` output in common locales (glibc abmon/mon/alt_mon), for snapshot times."""

from __future__ import annotations

import unicodedata

# Generated from glibc 2.36 locale data (`LC_ALL=xx_XX.UTF-8 locale abmon mon ab_alt_mon
# alt_mon`), keys lower-cased, NFC, trailing '.' removed; no key means two different months
# in two languages. One language per line: "name=month ...".
_TABLE = """
en jan=1 feb=2 mar=3 apr=4 may=5 jun=6 jul=7 aug=8 sep=9 oct=10 nov=11 dec=12 january=1 february=2 march=3 april=4 june=6 july=7 august=8 september=9 october=10 november=11 december=12 sept=9
de mär=3 mai=5 okt=10 dez=12 januar=1 februar=2 märz=3 juni=6 juli=7 oktober=10 dezember=12
fr janv=1 févr=2 mars=3 avril=4 juin=6 juil=7 août=8 sept=9 déc=12 janvier=1 février=2 juillet=7 septembre=9 octobre=10 novembre=11 décembre=12
es ene=1 abr=4 ago=8 dic=12 enero=1 febrero=2 marzo=3 abril=4 mayo=5 junio=6 julio=7 agosto=8 septiembre=9 octubre=10 noviembre=11 diciembre=12
it gen=1 mag=5 giu=6 lug=7 set=9 ott=10 gennaio=1 febbraio=2 aprile=4 maggio=5 giugno=6 luglio=7 settembre=9 ottobre=10 dicembre=12
pt fev=2 out=10 janeiro=1 fevereiro=2 março=3 maio=5 junho=6 julho=7 setembro=9 outubro=10 novembro=11 dezembro=12
nl mrt=3 mei=5 januari=1 februari=2 maart=3 augustus=8
sv maj=5 augusti=8
pl sty=1 lut=2 kwi=4 cze=6 lip=7 sie=8 wrz=9 paź=10 lis=11 gru=12 stycznia=1 lutego=2 marca=3 kwietnia=4 maja=5 czerwca=6 lipca=7 sierpnia=8 września=9 października=10 listopada=11 grudnia=12 styczeń=1 luty=2 marzec=3 kwiecień=4 czerwiec=6 lipiec=7 sierpień=8 wrzesień=9 październik=10 listopad=11 grudzień=12
cs led=1 úno=2 bře=3 dub=4 kvě=5 čen=6 čec=7 srp=8 zář=9 říj=10 pro=12 ledna=1 února=2 března=3 dubna=4 května=5 června=6 července=7 srpna=8 září=9 října=10 listopadu=11 prosince=12 leden=1 únor=2 březen=3 duben=4 květen=5 červen=6 červenec=7 srpen=8 říjen=10 prosinec=12
ru янв=1 фев=2 мар=3 апр=4 мая=5 июн=6 июл=7 авг=8 сен=9 окт=10 ноя=11 дек=12 января=1 февраля=2 марта=3 апреля=4 июня=6 июля=7 августа=8 сентября=9 октября=10 ноября=11 декабря=12 май=5 январь=1 февраль=2 март=3 апрель=4 июнь=6 июль=7 август=8 сентябрь=9 октябрь=10 ноябрь=11 декабрь=12
tr oca=1 şub=2 nis=4 haz=6 tem=7 ağu=8 eyl=9 eki=10 kas=11 ara=12 ocak=1 şubat=2 mart=3 nisan=4 mayıs=5 haziran=6 temmuz=7 ağustos=8 eylül=9 ekim=10 kasım=11 aralık=12
"""


def month_key(name: str) -> str:
    """Lookup key of a printed month name: NFC, lower case, without a trailing dot or comma."""
    return unicodedata.normalize("NFC", name).lower().rstrip(".,")


#: Printed month name (see ``month_key``) -> month number 1..12.
MONTHS: dict[str, int] = {
    month_key(k): int(v)
    for line in _TABLE.strip().splitlines()
    for k, _, v in (item.partition("=") for item in line.split()[1:])
}

#: Afternoon markers of 12-hour clocks (en AM/PM, ko 오전/오후, tr ÖÖ/ÖS).
PM_WORDS = ("PM", "오후", "ÖS")
