"""Synthetic customer records with known duplicates, for the FindMatches demo, tests and benchmarks.

Every entity (a real customer) gets one clean record and, for some entities, 1-4 noisy duplicates.
Duplicates carry the kinds of differences real sign-up data has: keyboard typos (insert, delete,
substitute, transpose), nicknames (Robert/Bob), swapped first and last names, upper-cased names,
missing values, other e-mail formats and domains, other phone formats, street-type abbreviations
(Street/St) and day/month swaps in the birth date. ``entity_id`` is the ground truth.

Everything is vectorized with numpy and ``pyarrow.compute``: there is no loop over records, and
typos are applied to whole arrays of strings at once as fixed-width code-point matrices.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# ---------------------------------------------------------------------------------------------
# Value pools, roughly in order of frequency (the draw is Zipf-like over the order).
# ---------------------------------------------------------------------------------------------
FIRST_NAMES = """
James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan
Joseph Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy Matthew Betty Anthony Margaret
Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin
Amanda Brian Dorothy George Melissa Timothy Deborah Ronald Stephanie Edward Rebecca Jason Sharon
Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen
Brenda Larry Pamela Justin Emma Scott Nicole Brandon Helen Benjamin Samantha Samuel Katherine Gregory
Christine Alexander Debra Frank Rachel Patrick Carolyn Raymond Janet Jack Catherine Dennis Maria
Jerry Heather Tyler Diane Aaron Ruth Jose Julie Adam Olivia Nathan Joyce Henry Virginia Douglas
Victoria Zachary Kelly Peter Lauren Kyle Christina Ethan Joan Walter Evelyn Noah Judith Jeremy Megan
Christian Andrea Keith Cheryl Roger Hannah Terry Jacqueline Gerald Martha Harold Gloria Sean Teresa
Austin Ann Carl Sara Arthur Madison Lawrence Frances Dylan Kathryn Jesse Janice Jordan Jean Bryan
Abigail Billy Alice Joe Judy Bruce Sophia Gabriel Grace Logan Denise Albert Amber Willie Doris Alan
Marilyn Juan Danielle Wayne Beverly Elijah Isabella Randy Theresa Roy Diana Vincent Natalie Ralph
Brittany Eugene Charlotte Russell Marie Bobby Kayla Mason Alexis Philip Lori Louis Alyssa Harry
Tiffany Howard Rose Fred Marion Martin Ella Victor Lucy Frederick Josephine Oliver Clara Leonard Edith
Theodore Margot Isaac Florence Nathaniel Agnes Luke Irene Owen Leah Caleb Holly Hugh Vivian Ian Nora
Simon Sylvia Dominic Wendy Miles Eleanor Felix Hazel Stanley Ivy Leo Ruby Max Daisy Abraham Susanna
""".split()

# Formal name = its common nicknames. Nicknames not in FIRST_NAMES are added to the name pool.
NICKNAMES = """
Robert=Bob,Rob,Bobby William=Bill,Will,Billy Richard=Dick,Rick,Rich James=Jim,Jimmy,Jamie John=Johnny,Jack
Michael=Mike,Mikey David=Dave,Davy Joseph=Joe,Joey Thomas=Tom,Tommy Charles=Charlie,Chuck Daniel=Dan,Danny
Matthew=Matt Anthony=Tony Donald=Don,Donnie Steven=Steve Andrew=Andy,Drew Joshua=Josh Kenneth=Ken,Kenny
Timothy=Tim,Timmy Ronald=Ron,Ronnie Edward=Ed,Eddie,Ted Jeffrey=Jeff Nicholas=Nick,Nicky Jonathan=Jon
Stephen=Steve Lawrence=Larry Benjamin=Ben,Benny Samuel=Sam,Sammy Gregory=Greg Alexander=Alex,Xander
Frederick=Fred,Freddie Patrick=Pat Raymond=Ray Gerald=Jerry Harold=Harry,Hal Zachary=Zach Peter=Pete
Walter=Walt Christopher=Chris Douglas=Doug Nathan=Nate Nathaniel=Nate,Nat Theodore=Ted,Teddy,Theo
Leonard=Len,Lenny Phillip=Phil Philip=Phil Louis=Lou Henry=Hank,Harry Albert=Al,Bert Eugene=Gene
Vincent=Vince Russell=Russ Frank=Frankie Isaac=Ike Abraham=Abe Dominic=Dom Stanley=Stan Oliver=Ollie
Mary=Molly,Polly Patricia=Pat,Patty,Trish Jennifer=Jen,Jenny Elizabeth=Liz,Beth,Betty,Eliza Barbara=Barb
Susan=Sue,Susie Jessica=Jess Margaret=Maggie,Peggy,Meg Sandra=Sandy Kimberly=Kim Deborah=Debbie,Deb
Rebecca=Becky Cynthia=Cindy Kathleen=Kathy,Kate Pamela=Pam Samantha=Sam Katherine=Kate,Katie,Kathy
Christine=Chris,Christy Debra=Debbie Catherine=Cathy,Kate Teresa=Terri Victoria=Vicky,Tori Judith=Judy
Jacqueline=Jackie Abigail=Abby Dorothy=Dot,Dottie Virginia=Ginny Josephine=Jo,Josie Eleanor=Ellie,Nora
Florence=Flo Susanna=Sue,Susie Madison=Maddie Alexis=Lexi Natalie=Nat Isabella=Izzy,Bella Sophia=Sophie
Andrea=Andy Amanda=Mandy Angela=Angie Frances=Fran Stephanie=Steph Christina=Tina Danielle=Dani
""".split()

SURNAMES = """
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson
Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis
Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall
Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins
Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed
Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz
Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell
Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson
Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis
Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods
Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson
Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black
Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols
Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen
Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley
Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena Richards Contreras Willis
Carpenter Lawrence Sandoval Guerrero George Chapman Rios Estrada Ortega Watkins Greene Nunez Wheeler
Valdez Harper Burke Larson Santiago Maldonado Morrison Franklin Carlson Austin Dominguez Carr Lawson
Jacobs O'Brien Lynch Singh Vega Bishop Montgomery Oliver Jensen Harvey Williamson Gilbert Dean Sims
Espinoza Howell Li Wong Reid Hanson Le McCoy Garrett Burton Fuller Wang Weber Welch Rojas Lucas
Marquez Fields Park Yang Little Banks Padilla Day Walsh Bowman Schultz Luna Fowler Mejia Davidson
Acosta Brewer May Holland Juarez Newman Pearson Curtis Cortez Douglas Schneider Joseph Barrett Navarro
Figueroa Keller Avila Wade Molina Stanley Hopkins Campos Barnett Bates Chambers Caldwell Beck Lambert
Miranda Byrd Craig Ayala Lowe Frazier Powers Neal Leonard Gregory Carrillo Sutton Fleming Rhodes
Shelton Schwartz Norris Jennings Watts Duran Walters Cohen McDaniel Moran Parks Steele Vaughn Becker
Holt DeLeon Barker Terry Hale Leon Benson Haynes Horton Miles Lyons Pham Graves Bush Thornton
""".split()

STREET_NAMES = (
    """
Main|Oak|Pine|Maple|Cedar|Elm|Washington|Lake|Hill|Park|Walnut|Sunset|Lincoln|Jackson|Church|River|
Willow|Highland|Spring|Chestnut|Meadow|Forest|Ridge|Jefferson|Adams|Madison|Franklin|Center|Mill|
Valley|Hickory|Dogwood|Birch|Cherry|Magnolia|Poplar|Sycamore|Laurel|Holly|Spruce|Aspen|Juniper|
Cypress|Hawthorn|Sherwood|Windsor|Cambridge|Oxford|Victoria|King|Queen|Prince|Bridge|Water|Market|
High|School|Station|Mill Pond|Green|Orchard|Garden|Grove|Kingston|Fairview|Lakeview|Riverside|
Hillcrest|Woodland|Briarwood|Brookside|Cottonwood|Evergreen|Greenwood|Heritage|Liberty|Union|
Harbor|Bay|Beach|Ocean|Shore|Mountain|Summit|Canyon|Prairie|Meadowbrook|Stonebridge|Fox Run|
Deer Creek|Quail Hollow|Eagle|Hawk|Falcon|Robin|Cardinal|Bluebird|Sparrow|Heron|Ivy|Rose|Lilac|
Tulip|Daisy|Clover|Heather|Jasmine|Primrose|Bramble|Thistle|Fern|Moss|Sage|Mulberry|Hazel|Alder|
Linden|Rowan|Beech|Acacia|Olive|Palm|Peach|Plum|Apple|Pear|Vine|Arbor|Mapleton|Ashford|Bedford|
Bristol|Chester|Dover|Essex|Hampton|Kent|Lancaster|Norfolk|Preston|Richmond|Salem|Somerset|Stratford|
Wellington|Westminster|York|Academy|College|Commerce|Industrial|Railroad|Canal|Ferry|Mill Creek|
Pleasant|Prospect|Ridgeway|Sunrise|Twin Oaks|Wildwood|Woodlawn|Crescent|Glen|Hollow|Knoll
""".replace("\n", "")
    .strip("|")
    .split("|")
)

# Street types: full form and abbreviation; duplicates may use the other form.
STREET_TYPES = [
    ("Street", "St"),
    ("Road", "Rd"),
    ("Avenue", "Ave"),
    ("Lane", "Ln"),
    ("Drive", "Dr"),
    ("Court", "Ct"),
    ("Place", "Pl"),
    ("Boulevard", "Blvd"),
    ("Terrace", "Ter"),
    ("Circle", "Cir"),
    ("Parkway", "Pkwy"),
    ("Way", "Wy"),
]

CITIES = (
    """
New York|Los Angeles|Chicago|Houston|Phoenix|Philadelphia|San Antonio|San Diego|Dallas|San Jose|
Austin|Jacksonville|Fort Worth|Columbus|Charlotte|Indianapolis|San Francisco|Seattle|Denver|
Washington|Nashville|Oklahoma City|El Paso|Boston|Portland|Las Vegas|Detroit|Memphis|Louisville|
Baltimore|Milwaukee|Albuquerque|Tucson|Fresno|Sacramento|Kansas City|Mesa|Atlanta|Omaha|
Colorado Springs|Raleigh|Long Beach|Virginia Beach|Miami|Oakland|Minneapolis|Tulsa|Bakersfield|
Wichita|Arlington|Aurora|Tampa|New Orleans|Cleveland|Honolulu|Anaheim|Lexington|Stockton|
Corpus Christi|Henderson|Riverside|Newark|Saint Paul|Santa Ana|Cincinnati|Irvine|Orlando|
Pittsburgh|St Louis|Greensboro|Jersey City|Anchorage|Lincoln|Plano|Durham|Buffalo|Chandler|
Chula Vista|Toledo|Madison|Gilbert|Reno|Fort Wayne|North Las Vegas|St Petersburg|Lubbock|Irving|
Laredo|Winston Salem|Chesapeake|Glendale|Garland|Scottsdale|Norfolk|Boise|Fremont|Spokane|
Santa Clarita|Baton Rouge|Richmond|Hialeah|San Bernardino|Tacoma|Modesto|Huntsville|Des Moines|
Yonkers|Rochester|Moreno Valley|Fayetteville|Fontana|Worcester|Port St Lucie|
Little Rock|Augusta|Oxnard|Birmingham|Montgomery|Frisco|Amarillo|Salt Lake City|Grand Rapids|
Huntington Beach|Overland Park|Grand Prairie|Tallahassee|Cape Coral|Mobile|Knoxville|Shreveport|
Akron|Springfield|Providence|Hartford|Savannah|Charleston|Syracuse|Dayton|Eugene|Salem|Fargo|
Billings|Cheyenne|Burlington|Manchester|Portsmouth|Wilmington|Dover|Concord|Trenton|Albany|
Annapolis|Harrisburg|Montpelier|Bangor|Ann Arbor|Lansing|Flint|Kalamazoo|Peoria|
Rockford|Joliet|Naperville|Evanston|Champaign|Bloomington|Gary|South Bend|Erie|Allentown|Reading|
Scranton|Lancaster|Camden|Paterson|Elizabeth|Edison|Stamford|New Haven|Bridgeport|Waterbury|
Pasadena|Berkeley|Santa Barbara|Santa Cruz|Palo Alto|Boulder|Fort Collins|Provo|Ogden|Missoula
""".replace("\n", "")
    .strip("|")
    .split("|")
)

EMAIL_DOMAINS = """
gmail.com yahoo.com hotmail.com outlook.com aol.com icloud.com comcast.net msn.com live.com att.net
verizon.net mail.com protonmail.com ymail.com me.com gmx.com sbcglobal.net cox.net earthlink.net
""".split()

# Duplicate noise: probability of each change, per duplicate record (scaled by ``noise``).
DUPLICATE_NOISE = {
    "first_typo": 0.12,
    "first_nickname": 0.10,
    "first_missing": 0.03,
    "last_typo": 0.12,
    "last_missing": 0.02,
    "name_swap": 0.03,
    "name_upper": 0.05,
    "email_format": 0.10,
    "email_domain": 0.15,
    "email_typo": 0.05,
    "email_missing": 0.10,
    "phone_format": 0.40,
    "phone_typo": 0.05,
    "phone_missing": 0.10,
    "street_abbrev": 0.30,
    "street_typo": 0.08,
    "street_missing": 0.05,
    "city_typo": 0.05,
    "city_missing": 0.05,
    "postcode_typo": 0.04,
    "postcode_missing": 0.05,
    "dob_day_month_swap": 0.05,
    "dob_year": 0.02,
    "dob_missing": 0.03,
}
# Every record (original or duplicate) may miss these optional fields.
BASE_MISSING = {"email": 0.03, "phone": 0.05, "street": 0.01, "postcode": 0.01, "date_of_birth": 0.01}
# Extra records per duplicated entity: 1, 2, 3 or 4 (entities have 1-5 records in all).
EXTRA_RECORD_PROBS = np.array([0.60, 0.25, 0.10, 0.05])
MAX_DUPLICATE_RATE = 0.8  # four extra records per entity at most

SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("street", pa.string()),
        ("city", pa.string()),
        ("postcode", pa.string()),
        ("date_of_birth", pa.date32()),
        ("entity_id", pa.int64()),
    ]
)

_DOB_START = np.datetime64("1940-01-01")
_DOB_END = np.datetime64("2006-12-31")
_CUSTOMER_ID_BASE = 1_000_000

# Keyboard neighbours (QWERTY) for realistic letter substitutions; digits get any other digit.
_KEYBOARD = {
    "a": "qwsz",
    "b": "vghn",
    "c": "xdfv",
    "d": "serfcx",
    "e": "wsdr",
    "f": "drtgvc",
    "g": "ftyhbv",
    "h": "gyujnb",
    "i": "ujko",
    "j": "huikmn",
    "k": "jiolm",
    "l": "kop",
    "m": "njk",
    "n": "bhjm",
    "o": "iklp",
    "p": "ol",
    "q": "wa",
    "r": "edft",
    "s": "awedxz",
    "t": "rfgy",
    "u": "yhji",
    "v": "cfgb",
    "w": "qase",
    "x": "zsdc",
    "y": "tghu",
    "z": "asx",
}


def _neighbour_table() -> tuple[np.ndarray, np.ndarray]:
    """(table[code, k], count[code]): k-th replacement candidate for a character code below 128."""
    table = np.zeros((128, 9), dtype=np.uint32)
    count = np.zeros(128, dtype=np.int64)
    letters = "abcdefghijklmnopqrstuvwxyz"
    for ch in letters + letters.upper():
        near = _KEYBOARD[ch.lower()]
        near = near.upper() if ch.isupper() else near
        table[ord(ch), : len(near)] = [ord(c) for c in near]
        count[ord(ch)] = len(near)
    digits = "0123456789"
    for d in digits:
        others = digits.replace(d, "")
        table[ord(d), :9] = [ord(c) for c in others]
        count[ord(d)] = 9
    return table, count


_NEIGHBOURS, _NEIGHBOUR_COUNT = _neighbour_table()
_INSERT_CHARS = np.array([ord(c) for c in "abcdefghijklmnopqrstuvwxyz"], dtype=np.uint32)

SUBSTITUTE, DELETE, INSERT, TRANSPOSE = 0, 1, 2, 3


def typos(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random keyboard typo per string: substitute, delete, insert or transpose one character.

    Works on all strings at once as a (n, width) matrix of code points. Strings shorter than two
    characters only get substitutions or insertions; digits are replaced by digits and letters by
    keyboard neighbours (same case), so phone numbers and postcodes stay numeric. Empty strings are
    returned unchanged.

    Args:
        values: 1-d array of Python or numpy strings (no nulls).
        rng: random generator.

    Returns:
        A numpy unicode array of the same length.
    """
    text = np.asarray(values, dtype=np.str_)
    n = text.shape[0]
    if n == 0:
        return text
    width = max(text.dtype.itemsize // 4, 1) + 1  # one spare column for insertions
    text = text.astype(f"<U{width}")
    codes = text.view(np.uint32).reshape(n, width)
    lengths = np.strings.str_len(text)

    op = rng.integers(0, 4, n)
    op = np.where((lengths < 2) & ((op == DELETE) | (op == TRANSPOSE)), SUBSTITUTE, op)
    draw = rng.random(n)
    span = np.where(op == INSERT, lengths + 1, np.where(op == TRANSPOSE, lengths - 1, lengths))
    pos = np.minimum((draw * np.maximum(span, 1)).astype(np.int64), np.maximum(span - 1, 0))
    # Transposing two equal characters changes nothing: substitute the first one instead.
    rows = np.arange(n)
    nxt = codes[rows, np.minimum(pos + 1, width - 1)]
    op = np.where((op == TRANSPOSE) & (codes[rows, pos] == nxt), SUBSTITUTE, op)

    col = np.arange(width)[None, :]
    p = pos[:, None]
    o = op[:, None]
    src = np.where(o == DELETE, np.where(col >= p, col + 1, col), col)
    src = np.where(o == INSERT, np.where(col > p, col - 1, col), src)
    src = np.where((o == TRANSPOSE) & (col == p), col + 1, src)
    src = np.where((o == TRANSPOSE) & (col == p + 1), col - 1, src)
    out = np.take_along_axis(codes, np.minimum(src, width - 1), axis=1)

    # The new character is a keyboard neighbour of the one replaced (or, for an insertion, of the one
    # it goes before, or after at the end); digits get digits, spaces and punctuation get letters.
    ref = codes[rows, np.where((op == INSERT) & (pos == lengths), np.maximum(pos - 1, 0), pos)]
    ref = np.where(ref < 128, ref, 0)
    count = _NEIGHBOUR_COUNT[ref]
    pick = np.minimum((rng.random(n) * np.maximum(count, 1)).astype(np.int64), 8)
    letter = _INSERT_CHARS[rng.integers(0, len(_INSERT_CHARS), n)]
    new_char = np.where(count > 0, _NEIGHBOURS[ref, pick], letter)
    setting = ((op == SUBSTITUTE) | (op == INSERT)) & (lengths > 0)
    out[rows[setting], pos[setting]] = new_char[setting]
    return out.reshape(-1).view(f"<U{width}")


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------
def _entity_sizes(n_records: int, duplicate_rate: float, rng: np.random.Generator) -> np.ndarray:
    """Records per entity (1-5, skewed), summing to ``n_records`` with ``duplicate_rate`` extras."""
    n_extra = int(round(duplicate_rate * n_records))
    n_entities = n_records - n_extra
    draws = rng.choice(np.arange(1, 5), size=n_extra + 1, p=EXTRA_RECORD_PROBS)  # sums to at least n_extra
    cut = int(np.searchsorted(np.cumsum(draws), n_extra))
    extras = draws[: cut + 1].copy()
    if extras.size:
        extras[-1] -= extras.sum() - n_extra  # trim the last entity so the total is exact
        extras = extras[extras > 0]
    if extras.size > n_entities:  # very high rates: spread evenly instead (at most 4 extras each)
        extras = np.full(n_entities, n_extra // n_entities)
        extras[: n_extra % n_entities] += 1
    sizes = np.ones(n_entities, dtype=np.int64)
    sizes[rng.choice(n_entities, size=extras.size, replace=False)] += extras
    return sizes


def _zipf_choice(pool_size: int, size: int, rng: np.random.Generator, offset: float = 8.0) -> np.ndarray:
    """Indices into a pool ordered by frequency, drawn with weights 1 / (rank + offset)."""
    weights = 1.0 / (np.arange(pool_size) + offset)
    return rng.choice(pool_size, size=size, p=weights / weights.sum())


def _first_name_pool() -> tuple[list[str], np.ndarray, np.ndarray]:
    """All first names (formal ones first), a (names, 4) nickname index table and counts."""
    names = list(FIRST_NAMES)
    index = {name: i for i, name in enumerate(names)}
    alternates: dict[int, list[int]] = {}
    for entry in NICKNAMES:
        formal, nicks = entry.split("=")
        if formal not in index:
            continue
        for nick in nicks.split(","):
            if nick not in index:
                index[nick] = len(names)
                names.append(nick)
            alternates.setdefault(index[formal], []).append(index[nick])
    table = np.zeros((len(names), 4), dtype=np.int64)
    count = np.zeros(len(names), dtype=np.int64)
    for formal, nicks in alternates.items():
        table[formal, : len(nicks[:4])] = nicks[:4]
        count[formal] = len(nicks[:4])
    return names, table, count


_NAMES, _NICK_TABLE, _NICK_COUNT = _first_name_pool()


def _mask(p: float, size: int, rng: np.random.Generator, where: np.ndarray | None = None) -> np.ndarray:
    m = rng.random(size) < p
    return m if where is None else m & where


def _apply_typos(column: pa.Array, mask: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Replace the values of ``column`` selected by ``mask`` (non-null ones) with a typo'd copy."""
    mask = mask & ~column.is_null().to_numpy(zero_copy_only=False)
    if not mask.any():
        return column
    picked = column.filter(pa.array(mask)).to_numpy(zero_copy_only=False)
    return pc.replace_with_mask(column, pa.array(mask), pa.array(typos(picked, rng).tolist(), pa.string()))


def _null_where(column: pa.Array, mask: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(mask), pa.nulls(len(column), column.type), column)


def _pad(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pa.array(values).cast(pa.string()), width, "0")


def _emails(first: pa.Array, last: pa.Array, fmt: np.ndarray, number: np.ndarray, domain: np.ndarray) -> pa.Array:
    """E-mail addresses in one of six local-part formats, an optional number and a domain."""
    clean = lambda a: pc.replace_substring_regex(pc.utf8_lower(a), r"[^a-z]", "")  # noqa: E731
    f, s = clean(first), clean(last)
    initial = pc.utf8_slice_codeunits(f, 0, 1)
    join = pc.binary_join_element_wise
    formats = [
        join(f, s, "."),
        join(f, s, "_"),
        join(initial, s, ""),
        join(f, s, ""),
        join(s, f, "."),
        join(f, pc.utf8_slice_codeunits(s, 0, 1), ""),
    ]
    local = pc.choose(pa.array(fmt, pa.int8()), *formats)
    suffix = pc.if_else(pa.array(number >= 0), pc.cast(pa.array(number), pa.string()), "")
    domains = pc.take(pa.array(EMAIL_DOMAINS), pa.array(domain))
    return join(join(local, suffix, ""), domains, "@")


def _phones(digits: np.ndarray, fmt: np.ndarray) -> pa.Array:
    """Ten-digit phone numbers written in one of five common formats."""
    area, exchange, line = _pad(digits // 10**7, 3), _pad(digits // 10**4 % 1000, 3), _pad(digits % 10**4, 4)
    join = pc.binary_join_element_wise
    formats = [
        join(join("(", area, ") ", ""), join(exchange, line, "-"), ""),
        join(area, exchange, line, "-"),
        join(area, exchange, line, "."),
        join(area, exchange, line, ""),
        join("+1 ", join(area, exchange, line, " "), ""),
    ]
    return pc.choose(pa.array(fmt, pa.int8()), *formats)


def _digit_typos(numbers: np.ndarray, mask: np.ndarray, digits: int, rng: np.random.Generator) -> np.ndarray:
    """Masked ``digits``-digit numbers with one digit replaced or two neighbouring digits swapped."""
    n = numbers.size
    k = rng.integers(0, digits - 1, n)  # digit position counted from the right
    low, high = 10**k, 10 ** (k + 1)
    d_low, d_high = numbers // low % 10, numbers // high % 10
    swapped = numbers + (d_high - d_low) * low + (d_low - d_high) * high
    replaced = numbers + ((d_low + rng.integers(1, 10, n)) % 10 - d_low) * low
    typo = np.where((rng.random(n) < 0.5) & (d_low != d_high), swapped, replaced)
    return np.where(mask, typo, numbers)


def _change(values: np.ndarray, mask: np.ndarray, choices: int, rng: np.random.Generator) -> np.ndarray:
    """Copy of integer codes with the masked ones moved to a different code in [0, choices)."""
    shifted = (values + rng.integers(1, choices, values.size)) % choices
    return np.where(mask, shifted, values)


def generate_customers(n_records: int, *, duplicate_rate: float = 0.3, seed: int = 0, noise: float = 1.0) -> pa.Table:
    """Synthetic customer records with noisy duplicates and the ground truth ``entity_id``.

    Args:
        n_records: number of records (rows) to produce.
        duplicate_rate: fraction of records that are extra copies of another record's customer,
            i.e. ``1 - entities / records`` (0 to 0.8). Duplicated customers have 2-5 records,
            mostly 2.
        seed: random seed; the same arguments always give the same table.
        noise: multiplier for the duplicate noise probabilities in ``DUPLICATE_NOISE``.

    Returns:
        A table with ``SCHEMA``: unique ``customer_id`` (long, 1,000,000 upwards in row order; rows
        are shuffled so that duplicates are not adjacent), the customer fields and ``entity_id``,
        equal for a record and its duplicates. The first record of each entity has no noise other
        than the occasional missing value (``BASE_MISSING``).
    """
    if n_records < 1:
        raise ValueError(f"n_records must be at least 1, got {n_records}")
    if not 0.0 <= duplicate_rate <= MAX_DUPLICATE_RATE:
        raise ValueError(f"duplicate_rate must be between 0 and {MAX_DUPLICATE_RATE}, got {duplicate_rate}")
    if noise < 0:
        raise ValueError(f"noise must not be negative, got {noise}")
    rng = np.random.default_rng(seed)
    prob = {key: min(1.0, value * noise) for key, value in DUPLICATE_NOISE.items()}

    # Entities and their true attributes.
    sizes = _entity_sizes(n_records, duplicate_rate, rng)
    n_ent = sizes.size
    ent_first = _zipf_choice(len(FIRST_NAMES), n_ent, rng)
    ent_last = _zipf_choice(len(SURNAMES), n_ent, rng, offset=15.0)
    ent_email_fmt = rng.choice(6, n_ent, p=[0.3, 0.1, 0.2, 0.2, 0.1, 0.1])
    ent_email_num = np.where(rng.random(n_ent) < 0.4, rng.integers(1, 100, n_ent), -1)
    ent_domain = _zipf_choice(len(EMAIL_DOMAINS), n_ent, rng, offset=1.0)
    ent_phone = rng.integers(201, 990, n_ent) * 10**7 + rng.integers(200, 1000, n_ent) * 10**4
    ent_phone += rng.integers(0, 10**4, n_ent)
    ent_phone_fmt = rng.choice(5, n_ent, p=[0.3, 0.3, 0.1, 0.2, 0.1])
    ent_house = np.minimum(rng.geometric(0.01, n_ent), 9999)
    ent_street = rng.integers(0, len(STREET_NAMES), n_ent)
    ent_street_type = _zipf_choice(len(STREET_TYPES), n_ent, rng, offset=2.0)
    ent_abbrev = rng.random(n_ent) < 0.5
    ent_city = _zipf_choice(len(CITIES), n_ent, rng, offset=20.0)
    ent_zip = np.random.default_rng(7).integers(100, 1000, len(CITIES))[ent_city] * 100 + rng.integers(0, 100, n_ent)
    span = int((_DOB_END - _DOB_START).astype(np.int64))
    ent_dob = rng.integers(0, span + 1, n_ent)

    # Records: the first of each entity is clean, the rest are duplicates; shuffled so that
    # duplicates are not adjacent (before any string is built: gathering strings is slow).
    ent = np.repeat(np.arange(n_ent), sizes)
    n = ent.size
    dup = np.ones(n, dtype=bool)
    dup[np.cumsum(sizes) - sizes] = False
    order = rng.permutation(n)
    ent, dup = ent[order], dup[order]

    # Names: nicknames, typos, upper case, swaps, missing.
    first_idx = ent_first[ent]
    nick = _mask(prob["first_nickname"], n, rng, dup) & (_NICK_COUNT[first_idx] > 0)
    pick = (rng.random(n) * np.maximum(_NICK_COUNT[first_idx], 1)).astype(np.int64)
    first_idx = np.where(nick, _NICK_TABLE[first_idx, pick], first_idx)
    first = pc.take(pa.array(_NAMES), pa.array(first_idx))
    last = pc.take(pa.array(SURNAMES), pa.array(ent_last[ent]))
    first = _apply_typos(first, _mask(prob["first_typo"], n, rng, dup), rng)
    last = _apply_typos(last, _mask(prob["last_typo"], n, rng, dup), rng)
    upper = pa.array(_mask(prob["name_upper"], n, rng, dup))
    first, last = pc.if_else(upper, pc.utf8_upper(first), first), pc.if_else(upper, pc.utf8_upper(last), last)
    swap = pa.array(_mask(prob["name_swap"], n, rng, dup))
    first, last = pc.if_else(swap, last, first), pc.if_else(swap, first, last)
    first = _null_where(first, _mask(prob["first_missing"], n, rng, dup))
    last = _null_where(last, _mask(prob["last_missing"], n, rng, dup))

    # E-mail from the true name: another format or domain, typos, missing.
    true_first = pc.take(pa.array(_NAMES), pa.array(ent_first[ent]))
    true_last = pc.take(pa.array(SURNAMES), pa.array(ent_last[ent]))
    fmt = _change(ent_email_fmt[ent], _mask(prob["email_format"], n, rng, dup), 6, rng)
    domain = _change(ent_domain[ent], _mask(prob["email_domain"], n, rng, dup), len(EMAIL_DOMAINS), rng)
    email = _emails(true_first, true_last, fmt, ent_email_num[ent], domain)
    email = _apply_typos(email, _mask(prob["email_typo"], n, rng, dup), rng)
    email = _null_where(email, _mask(prob["email_missing"], n, rng, dup) | _mask(BASE_MISSING["email"], n, rng))

    # Phone: another format, a wrong digit, missing.
    phone_fmt = _change(ent_phone_fmt[ent], _mask(prob["phone_format"], n, rng, dup), 5, rng)
    phone = _phones(_digit_typos(ent_phone[ent], _mask(prob["phone_typo"], n, rng, dup), 10, rng), phone_fmt)
    phone = _null_where(phone, _mask(prob["phone_missing"], n, rng, dup) | _mask(BASE_MISSING["phone"], n, rng))

    # Street: "12 Oak Street" or "12 Oak St", typos, missing.
    abbrev = ent_abbrev[ent] ^ _mask(prob["street_abbrev"], n, rng, dup)
    type_pool = pa.array([full for full, _ in STREET_TYPES] + [short for _, short in STREET_TYPES])
    street_type = pc.take(type_pool, pa.array(ent_street_type[ent] + abbrev * len(STREET_TYPES)))
    street_name = pc.take(pa.array(STREET_NAMES), pa.array(ent_street[ent]))
    house = pc.cast(pa.array(ent_house[ent]), pa.string())
    street = pc.binary_join_element_wise(house, street_name, street_type, " ")
    street = _apply_typos(street, _mask(prob["street_typo"], n, rng, dup), rng)
    street = _null_where(street, _mask(prob["street_missing"], n, rng, dup) | _mask(BASE_MISSING["street"], n, rng))

    # City and postcode.
    city = pc.take(pa.array(CITIES), pa.array(ent_city[ent]))
    city = _apply_typos(city, _mask(prob["city_typo"], n, rng, dup), rng)
    city = _null_where(city, _mask(prob["city_missing"], n, rng, dup))
    postcode = _pad(ent_zip[ent], 5)
    postcode = _apply_typos(postcode, _mask(prob["postcode_typo"], n, rng, dup), rng)
    missing = _mask(prob["postcode_missing"], n, rng, dup) | _mask(BASE_MISSING["postcode"], n, rng)
    postcode = _null_where(postcode, missing)

    # Date of birth: day/month swapped (when both are valid months), year off by one, missing.
    dob = _DOB_START + ent_dob[ent].astype("timedelta64[D]")
    month_start = dob.astype("datetime64[M]")
    year_start = dob.astype("datetime64[Y]")
    day = (dob - month_start).astype(np.int64) + 1
    month = (month_start - year_start).astype(np.int64) + 1
    swappable = (day <= 12) & (day != month)
    swap_dm = _mask(prob["dob_day_month_swap"], n, rng, dup) & swappable
    swapped = (year_start.astype("datetime64[M]") + (day - 1)).astype("datetime64[D]") + (month - 1)
    dob = np.where(swap_dm, swapped, dob)
    shift_year = _mask(prob["dob_year"], n, rng, dup)
    years = np.where(rng.random(n) < 0.5, -1, 1)
    day = (dob - dob.astype("datetime64[M]")).astype(np.int64)
    dob = np.where(shift_year, (dob.astype("datetime64[M]") + 12 * years).astype("datetime64[D]") + day, dob)
    missing = _mask(prob["dob_missing"], n, rng, dup) | _mask(BASE_MISSING["date_of_birth"], n, rng)
    date_of_birth = pa.array(dob.astype("datetime64[D]"), pa.date32(), mask=missing)

    columns = {
        "customer_id": pa.array(np.arange(n, dtype=np.int64) + _CUSTOMER_ID_BASE),
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": phone,
        "street": street,
        "city": city,
        "postcode": postcode,
        "date_of_birth": date_of_birth,
        "entity_id": pa.array(ent.astype(np.int64)),
    }
    return pa.table(columns, schema=SCHEMA)


_PART = re.compile(r"part-\d{5}\.parquet")


def write_customers(
    path: str | Path,
    n_records: int,
    *,
    duplicate_rate: float = 0.3,
    seed: int = 0,
    noise: float = 1.0,
    files: int = 8,
) -> Path:
    """Write ``generate_customers(...)`` as ``files`` Parquet files ``part-NNNNN.parquet`` under ``path``.

    Part files left by an earlier run in the same folder are replaced; other files are kept.

    Returns:
        The folder written.
    """
    if files < 1:
        raise ValueError(f"files must be at least 1, got {files}")
    table = generate_customers(n_records, duplicate_rate=duplicate_rate, seed=seed, noise=noise)
    target = Path(path)
    target.mkdir(parents=True, exist_ok=True)
    for old in target.iterdir():
        if _PART.fullmatch(old.name):
            old.unlink()
    bounds = np.linspace(0, table.num_rows, min(files, table.num_rows) + 1).astype(np.int64)
    for part, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        pq.write_table(table.slice(start, stop - start), target / f"part-{part:05d}.parquet")
    return target
