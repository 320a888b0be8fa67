"""The true world: smuggling networks, migrants, phones, vehicles, boats, money, calls and crossings."""

from __future__ import annotations

import bisect
import heapq
import csv
import datetime as dt
import math
import os
import random
from pathlib import Path

from tessera.scenario import identifiers as ids
from tessera.scenario.names import MIGRANT_MIX, SMUGGLER_MIX, CULTURES, make_name, true_parts

ROLES = ["organiser", "recruiter", "money_handler", "logistics", "driver"]
ROLE_COUNTS = {"organiser": (1, 1), "recruiter": (1, 3), "money_handler": (1, 2), "logistics": (1, 2), "driver": (1, 3)}
SUPPLY_COUNTRIES = ["DE", "NL", "TR", "BG"]
ORGANISER_BASES = ["IQ", "IQ", "TR", "DE", "BE", "NL", "GB", "FR"]
_MONTHLY = [0.25, 0.3, 0.55, 0.8, 1.0, 1.3, 1.4, 1.6, 1.7, 1.4, 1.0, 0.5]  # fallback seasonal curve


class Person:
    """One real person, with what is true about them."""

    __slots__ = ("id", "name", "dob", "dob_est", "nat", "role", "nets", "phones", "address", "family",
                 "culture", "uk_phone", "vehicles", "accounts", "socials", "base")

    def __init__(self, pid, name, dob, dob_est, nat, role):
        self.id, self.name, self.dob, self.dob_est, self.nat, self.role = pid, name, dob, dob_est, nat, role
        self.nets: list[str] = []
        self.phones: list[str] = []
        self.address = ""
        self.family = ""
        self.culture = name.culture
        self.uk_phone = ""
        self.vehicles: list[tuple[str, str, str]] = []   # (id, plate, country)
        self.accounts: list[tuple[str, str]] = []        # (id, iban)
        self.socials: list[tuple] = []
        self.base = ""


class Network:
    __slots__ = ("id", "codename", "parent", "formed", "dissolved", "base", "members", "by_role", "watched")

    def __init__(self, nid, codename, parent, formed, dissolved, base):
        self.id, self.codename, self.parent, self.formed, self.dissolved, self.base = \
            nid, codename, parent, formed, dissolved, base
        self.members: list[Person] = []
        self.by_role: dict[str, list[Person]] = {r: [] for r in ROLES}
        self.watched = {}


class Crossing:
    __slots__ = ("id", "date", "beach", "lat", "lon", "net", "boat", "engine", "driver", "vehicle",
                 "intercepted", "capacity")


def small_boats_csv() -> Path | None:
    """The Home Office daily series (The National's CSV), if this machine has it."""
    env = os.environ.get("TESSERA_SMALL_BOATS_CSV")
    candidates = [Path(env)] if env else []
    root = Path(__file__).resolve().parents[2]
    candidates += [root.parent / "shared/data/uk_small_boats/long_uk_small_boats_daily.csv",
                   root / "../shared/data/uk_small_boats/long_uk_small_boats_daily.csv"]
    return next((p for p in candidates if p.exists()), None)


def daily_weights() -> tuple[list[dt.date], list[float]]:
    """Days and relative crossing weights: real daily arrivals if available, else a seasonal curve."""
    path = small_boats_csv()
    days, weights = [], []
    if path is not None:
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                v = row.get("migrants_arrived") or ""
                if v.strip():
                    try:
                        w = float(v)
                    except ValueError:
                        continue
                    if w > 0:
                        days.append(dt.date.fromisoformat(row["full_date"]))
                        weights.append(w)
    if not days:
        d = dt.date(2021, 1, 1)
        while d < dt.date(2025, 1, 1):
            days.append(d)
            weights.append(_MONTHLY[d.month - 1] * (1.0 + 0.3 * ((d.toordinal() * 7919) % 10) / 10))
            d += dt.timedelta(days=1)
    return days, weights


def _pick(rng: random.Random, mix):
    total = sum(w for _, w in mix)
    r = rng.random() * total
    for k, w in mix:
        r -= w
        if r < 0:
            return k
    return mix[-1][0]


class World:
    """Builds the world for a seed and streams what happens in it to observers (holders and truth)."""

    def __init__(self, seed: int, people: int, observer, truth):
        self.rng = random.Random(seed)
        self.seed = seed
        self.n_people = people
        self.obs = observer
        self.truth = truth
        self.count = 0
        self.n_links = 0
        self.n_events = 0
        self.n_assets = 0
        self.n_hotels = max(5, people // 400)

    # ---- ids -------------------------------------------------------------------------------
    def pid(self) -> str:
        self.count += 1
        return f"P{self.count:07d}"

    def link(self, source, target, kind, date, amount="") -> str:
        self.n_links += 1
        lid = f"L{self.n_links:08d}"
        self.truth.link(lid, source, target, kind, date, amount)
        return lid

    def asset(self, prefix, kind, value, owner, country, note="") -> str:
        self.n_assets += 1
        aid = f"{prefix}{self.n_assets:07d}"
        self.truth.asset(aid, kind, value, owner, country, note)
        return aid

    def event_id(self) -> str:
        self.n_events += 1
        return f"E{self.n_events:07d}"

    # ---- people ------------------------------------------------------------------------------
    def person(self, culture, female, role, age_lo, age_hi, on: dt.date, family=None, father=None,
               est=0.25, nat=None) -> Person:
        rng = self.rng
        name = make_name(rng, culture, female, family, father)
        age = rng.randint(age_lo, age_hi)
        dob = dt.date(on.year - age, 1, 1) + dt.timedelta(days=rng.randrange(365))
        c = CULTURES[culture]
        p = Person(self.pid(), name, dob, rng.random() < est, nat or c.nationalities[rng.randrange(len(c.nationalities))], role)
        return p

    def record_person(self, p: Person) -> None:
        given, middle, family, father = true_parts(p.name)
        self.truth.person(p, given, middle, family, father)

    # ---- networks ----------------------------------------------------------------------------
    def build_networks(self, first: dt.date, last: dt.date) -> list[Network]:
        rng = self.rng
        n_smug = max(24, int(self.n_people * 0.02))
        n_nets = max(3, n_smug // 10)
        span = (last - first).days
        nets: list[Network] = []
        smugglers: list[Person] = []
        words = ["AMBER", "BASALT", "CEDAR", "DELTA", "EMBER", "FALCON", "GRANITE", "HARBOUR", "IRIS", "JASPER",
                 "KESTREL", "LANTERN", "MARLIN", "NIMBUS", "ONYX", "PELICAN", "QUARTZ", "RAVEN", "SHINGLE", "TIDE"]
        for i in range(n_nets):
            formed = first + dt.timedelta(days=rng.randrange(max(1, span - 120)))
            dissolved = min(last, formed + dt.timedelta(days=rng.randint(180, 1100)))
            parent = nets[rng.randrange(len(nets))] if nets and rng.random() < 0.25 else None
            if parent is not None:  # a split or re-formed network takes over after its parent
                formed = max(formed, parent.formed + dt.timedelta(days=60))
                dissolved = max(dissolved, formed + dt.timedelta(days=120))
            base = ORGANISER_BASES[rng.randrange(len(ORGANISER_BASES))]
            net = Network(f"N{i + 1:04d}", f"{words[i % len(words)]}-{i // len(words) + 1}",
                          parent.id if parent else "", formed, dissolved, base)
            for role in ROLES:
                lo, hi = ROLE_COUNTS[role]
                for _ in range(rng.randint(lo, hi)):
                    reuse = None
                    if parent is not None and role != "organiser" and rng.random() < 0.5:
                        cands = parent.by_role[role]
                        reuse = cands[rng.randrange(len(cands))] if cands else None
                    elif smugglers and rng.random() < 0.08:  # works for two networks at once
                        reuse = smugglers[rng.randrange(len(smugglers))]
                        if reuse.role != role or net.id in reuse.nets:
                            reuse = None
                    p = reuse or self.new_smuggler(role, net, formed)
                    if net.id not in p.nets:
                        p.nets.append(net.id)
                        net.members.append(p)
                        net.by_role[role].append(p)
                        # each stint in a network comes with a fresh burner
                        if reuse is not None:
                            p.phones.append(ids.phone(rng, "GB" if rng.random() < 0.6 else p.base))
                    if p is not reuse:
                        smugglers.append(p)
            # shared phone: two members use the same handset
            if len(net.members) > 2 and rng.random() < 0.4:
                a, b = rng.sample(net.members, 2)
                if a.phones:
                    b.phones.append(a.phones[-1])
            nets.append(net)
            self.truth.network(net, net.by_role["organiser"][0].id)
        for p in smugglers:
            self.record_person(p)
            for ph in p.phones:
                self.truth.asset(ph, "phone", ph, p.id, ph[:4], "")
            for m in p.nets:
                self.link(p.id, m, "membership", "")
        # associations between members, and family ties between some
        for net in nets:
            ms = net.members
            for _ in range(len(ms)):
                a, b = rng.sample(ms, 2) if len(ms) > 1 else (ms[0], ms[0])
                if a is not b:
                    self.link(a.id, b.id, "association", net.formed.isoformat())
        self.smugglers = smugglers
        return nets

    def new_smuggler(self, role: str, net: Network, on: dt.date) -> Person:
        rng = self.rng
        culture = _pick(rng, SMUGGLER_MIX)
        p = self.person(culture, rng.random() < 0.08, role, 22, 58, on, est=0.1)
        if role == "organiser":
            p.base = net.base
        elif role in ("driver", "logistics"):
            p.base = "GB" if rng.random() < 0.45 else rng.choice(["FR", "DE", "BE", "NL"])
        else:
            p.base = rng.choice(["GB", "FR", "DE", "IQ", "TR", "BE"])
        if p.base == "GB" or (culture == "british"):
            p.address = ids.uk_address(rng)
            p.base = "GB"
        elif p.base == "FR":
            p.address = ids.fr_address(rng)
        n_ph = rng.randint(1, 4 if role in ("organiser", "recruiter") else 2)
        for _ in range(n_ph):
            p.phones.append(ids.phone(rng, p.base if rng.random() < 0.7 else "GB"))
        if role in ("driver", "logistics"):
            for _ in range(rng.randint(1, 2)):
                c = p.base if p.base in ("GB", "FR", "DE", "BE", "NL") else rng.choice(["DE", "BG", "FR"])
                if rng.random() < 0.2:
                    c = "BG"
                pl = ids.plate(rng, c)
                vid = self.asset("V", "vehicle", pl, p.id, c, rng.choice(["Ford Transit", "Renault Master", "Mercedes Sprinter", "VW Crafter", "Peugeot Boxer"]))
                p.vehicles.append((vid, pl, c))
        if role in ("money_handler", "organiser"):
            for _ in range(rng.randint(1, 3)):
                c = rng.choice(["GB", "DE", "NL", "BE"])
                ib = ids.iban(rng, c)
                p.accounts.append((self.asset("A", "bank_account", ib, p.id, c), ib))
        if role == "recruiter":
            for _ in range(rng.randint(1, 3)):
                platform = rng.choice(["Facebook", "TikTok", "Telegram", "Instagram"])
                handle = self.handle(p)
                sid = self.asset("S", "social_account", handle, p.id, "", platform)
                p.socials.append((sid, handle, platform, p.phones[rng.randrange(len(p.phones))]))
        return p

    def handle(self, p: Person) -> str:
        rng = self.rng
        given, _, family, _ = true_parts(p.name)
        stem = rng.choice([given, family or given, "uk_trip", "safe_travel", "europe_uk", "boat_uk", "kak"])
        stem = "".join(ch for ch in stem.lower() if ch.isascii() and ch.isalnum() or ch == "_") or "uk"
        return f"{stem}{rng.choice(['_', '.', ''])}{rng.randrange(10, 9999)}"

    # ---- crossings -----------------------------------------------------------------------------
    def crossings(self, nets: list[Network], n: int):
        """Crossing attempts in date order, each with a network, boat, engine, driver and beach."""
        rng = self.rng
        days, weights = self.days, self.weights
        cum = []
        t = 0.0
        for w in weights:
            t += w
            cum.append(t)
        dates = sorted(days[bisect.bisect_left(cum, rng.random() * t)] for _ in range(n))
        for i, d in enumerate(dates):
            c = Crossing()
            self.n_cross += 1
            c.id = f"X{self.n_cross:07d}"
            c.date = d
            beach = ids.BEACHES[rng.randrange(len(ids.BEACHES))]
            c.beach = beach[0]
            c.lat = round(beach[1] + rng.uniform(-0.015, 0.015), 4)
            c.lon = round(beach[2] + rng.uniform(-0.015, 0.015), 4)
            active = self.active_in(nets, d)
            c.net = active[rng.randrange(len(active))] if active else nets[rng.randrange(len(nets))]
            logistics = c.net.by_role["logistics"]
            buyer = logistics[rng.randrange(len(logistics))]
            country = SUPPLY_COUNTRIES[rng.randrange(4)]
            bought = (d - dt.timedelta(days=rng.randint(10, 120))).isoformat()
            hin = ids.boat_hin(rng, country)
            c.boat = (self.asset("B", "vessel", hin, buyer.id, country, f"bought {bought}"), hin, country, buyer, bought)
            model, serial = ids.engine(rng)
            c.engine = (self.asset("G", "engine", serial, buyer.id, country, f"{model}; bought {bought}"), serial, model, country, buyer, bought)
            drivers = c.net.by_role["driver"]
            c.driver = drivers[rng.randrange(len(drivers))]
            c.vehicle = c.driver.vehicles[rng.randrange(len(c.driver.vehicles))] if c.driver.vehicles else None
            c.intercepted = rng.random() < 0.3
            c.capacity = max(8, min(90, int(rng.gauss(48, 14))))
            yield c

    def active_in(self, nets: list[Network], d: dt.date) -> list[Network]:
        """Networks active on a day (indexed by month, so a million people stay fast)."""
        if not hasattr(self, "_by_month"):
            self._by_month = {}
            for nt in nets:
                m = nt.formed.year * 12 + nt.formed.month
                while m <= nt.dissolved.year * 12 + nt.dissolved.month:
                    self._by_month.setdefault(m, []).append(nt)
                    m += 1
        return [nt for nt in self._by_month.get(d.year * 12 + d.month, ()) if nt.formed <= d <= nt.dissolved]

    def migrant_family(self, on: dt.date) -> list[Person]:
        rng = self.rng
        culture = _pick(rng, MIGRANT_MIX)
        r = rng.random()
        size = 1 if r < 0.7 else 2 if r < 0.8 else 3 if r < 0.9 else 4 if r < 0.96 else 5
        size = max(1, min(size, self.n_people - self.count))
        head = self.person(culture, rng.random() < 0.1, "migrant", 17, 45, on)
        fam = [head]
        c = CULTURES[culture]
        fam_name = head.name.family
        if size > 1:
            fid = f"F{head.id[1:]}"
            spouse = self.person(culture, not head.name.female, "migrant", 18, 45, on, family=fam_name if culture != "tigrinya" else None, nat=head.nat)
            fam.append(spouse)
            for _ in range(size - 2):
                kid_family = head.name.given if c.patronymic else fam_name
                kid = self.person(culture, rng.random() < 0.5, "migrant", 1, 16, on, family=kid_family,
                                  father=head.name.given if not head.name.female else None, nat=head.nat)
                fam.append(kid)
            for m in fam:
                m.family = fid
        phone = ids.phone(rng, c.phone_cc if rng.random() < 0.8 else "TR")
        hotel = ids.hotel_address(rng, rng.randrange(self.n_hotels))
        for i, m in enumerate(fam):
            if i < 2 or rng.random() < 0.2:
                m.phones.append(phone if i == 0 or rng.random() < 0.7 else ids.phone(rng, c.phone_cc))
            m.address = hotel
        for m in fam[1:]:
            self.link(head.id, m.id, "family", "")
        return fam

    # ---- the run ----------------------------------------------------------------------------------
    def run(self) -> None:
        self.days, self.weights = daily_weights()
        self.n_cross = 0
        nets = self.build_networks(self.days[0], self.days[-1])
        self.nets = nets
        self.obs.smugglers(self, nets, self.smugglers)
        self.member_traffic(nets)
        migrants_left = self.n_people - self.count
        per_boat_new = 34
        pending: list[tuple[dt.date, int, Person]] = []  # heap of intercepted people waiting to try again
        self.seq = 0
        while migrants_left > 0 or pending:
            n = max(1, math.ceil(migrants_left / per_boat_new * 1.05)) if migrants_left > 0 else max(1, len(pending) // 30)
            for c in self.crossings(nets, n):
                self.fill(c, pending, migrants_left)
                migrants_left = self.n_people - self.count
                if migrants_left <= 0 and not pending:
                    break
            if migrants_left <= 0 and pending and self.days[-1] <= max(d for d, _, _ in pending):
                pending.clear()  # nobody is left to try again within the series
        self.obs.finish(self)

    def fill(self, c: Crossing, pending: list, migrants_left: int) -> None:
        rng = self.rng
        aboard: list[Person] = []
        while pending and pending[0][0] <= c.date and len(aboard) < c.capacity:
            aboard.append(heapq.heappop(pending)[2])
        fresh: list[Person] = []
        while len(aboard) < c.capacity and self.count < self.n_people:
            fam = self.migrant_family(c.date)
            aboard.extend(fam)
            fresh.extend(fam)
        if not aboard:
            return
        adults = [m for m in fresh if m.dob.year < c.date.year - 17]
        pilot = adults[rng.randrange(len(adults))] if adults else aboard[rng.randrange(len(aboard))]
        if pilot in adults:
            pilot.role = "pilot"  # a migrant who steers for a discount
        for m in fresh:
            m.nets.append(c.net.id)
            self.record_person(m)
            for ph in m.phones:
                self.truth.asset(ph, "phone", ph, m.id, ph[:4], "")
            self.pay_and_call(m, c)
        for m in aboard:
            self.link(m.id, c.id, "co-travel", c.date.isoformat())
        self.obs.crossing(self, c, aboard, pilot)
        if c.intercepted:
            for m in aboard:
                if rng.random() < 0.8:
                    self.seq += 1
                    heapq.heappush(pending, (c.date + dt.timedelta(days=rng.randint(3, 40)), self.seq, m))

    def member_traffic(self, nets: list[Network]) -> None:
        """Calls between members of each network and money sent up to the organiser."""
        rng = self.rng
        for net in nets:
            ms = [m for m in net.members if m.phones]
            span = max(1, (net.dissolved - net.formed).days)
            for _ in range(len(ms) * 12 if len(ms) > 1 else 0):
                a, b = rng.sample(ms, 2)
                at = dt.datetime.combine(net.formed + dt.timedelta(days=rng.randrange(span)),
                                         dt.time(rng.randrange(24), rng.randrange(60), rng.randrange(60)))
                lid = self.link(a.id, b.id, "call", at.isoformat(), "")
                self.obs.call(self, lid, a.phones[rng.randrange(len(a.phones))],
                              b.phones[rng.randrange(len(b.phones))], at, rng.randint(5, 1800), net)
            org = net.by_role["organiser"][0]
            for h in net.by_role["money_handler"]:
                for _ in range(rng.randint(3, 12)):
                    when = net.formed + dt.timedelta(days=rng.randrange(span))
                    amount = rng.randrange(8000, 90000, 500)
                    lid = self.link(h.id, org.id, "payment", when.isoformat(), amount)
                    self.obs.payment(self, lid, h, org, when, amount)

    def pay_and_call(self, m: Person, c: Crossing) -> None:
        rng = self.rng
        net = c.net
        when = c.date - dt.timedelta(days=rng.randint(5, 60))
        if m.family == "" or m.id[1:] == m.family[1:]:  # the head of a family pays for everyone
            handlers = net.by_role["money_handler"]
            h = handlers[rng.randrange(len(handlers))]
            amount = rng.choice([1500, 2000, 2500, 3000, 3500, 4000, 5000, 6000, 7000])
            lid = self.link(m.id, h.id, "payment", when.isoformat(), amount)
            self.obs.payment(self, lid, m, h, when, amount)
            recs = net.by_role["recruiter"]
            r = recs[rng.randrange(len(recs))]
            for _ in range(rng.randint(1, 3)):
                at = dt.datetime.combine(when, dt.time(rng.randrange(24), rng.randrange(60), rng.randrange(60)))
                if m.phones and r.phones:
                    a, b = m.phones[0], r.phones[rng.randrange(len(r.phones))]
                    dur = rng.randint(5, 900)
                    lid = self.link(m.id, r.id, "call", at.isoformat(), "")
                    self.obs.call(self, lid, a, b, at, dur, net)
                at += dt.timedelta(days=rng.randint(0, 10))
