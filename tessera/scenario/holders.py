"""The agencies holding pieces of the world: each one's files, layout, habits, markings and mapping."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import yaml

from tessera.scenario import identifiers as ids
from tessera.scenario.names import CULTURES, render
from tessera.scenario.writer import CsvSink, JsonlSink, XlsxSink

COUNTRY_NAMES = {"IQ": "Iraq", "SY": "Syria", "SD": "Sudan", "EG": "Egypt", "KW": "Kuwait", "IR": "Iran",
                 "TR": "Turkey", "AF": "Afghanistan", "VN": "Vietnam", "AL": "Albania", "ER": "Eritrea",
                 "ET": "Ethiopia", "GB": "United Kingdom", "FR": "France", "DE": "Germany", "BE": "Belgium",
                 "NL": "Netherlands", "BG": "Bulgaria"}
ISO3 = {"IQ": "IRQ", "SY": "SYR", "SD": "SDN", "EG": "EGY", "KW": "KWT", "IR": "IRN", "TR": "TUR", "AF": "AFG",
        "VN": "VNM", "AL": "ALB", "ER": "ERI", "ET": "ETH", "GB": "GBR", "FR": "FRA", "DE": "DEU", "BE": "BEL",
        "NL": "NLD", "BG": "BGR"}


def prop(column=None, *, fmt=None, required=False, **kw):
    """One property mapping: a column (with optional date format) or whatever is passed in kw."""
    d = {"column": column} if column else {}
    d.update(kw)
    if fmt:
        d["format"] = fmt
    if required:
        d["required"] = True
    return d


def query_mapping(dataset: str, entities: dict, **ext) -> dict:
    return {dataset: {"queries": [{**ext, "entities": entities}]}}


def bad_positions(rng: random.Random, lo: int, hi: int, k: int) -> list[int]:
    return sorted(rng.sample(range(lo, hi), k))


class Holder:
    """An agency: opens its files and mappings, and records what it sees of the world."""

    code = ""
    marking: dict = {}

    def __init__(self, root: Path, truth, seed: int):
        self.root, self.truth = root, truth
        self.rng = random.Random(f"{seed}:{self.code}")
        self.sinks: dict[str, object] = {}
        self.manifest: list[dict] = []
        self.n = 0

    def next_ref(self) -> int:
        self.n += 1
        return self.n

    def add(self, sink, mapping: dict | None, mapping_name: str | None = None) -> None:
        mrel = None
        if mapping is not None:
            mrel = f"{self.code.lower()}/{mapping_name or Path(sink.rel).stem}.mapping.yml"
            path = self.root / mrel
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.write_text(yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True), encoding="utf-8")
        self.sinks[sink.rel] = sink
        self.manifest.append({"holder": self.code, "file": sink.rel, "mapping": mrel, **self.marking})

    def name(self, p, **kw) -> tuple[str, str]:
        return render(self.rng, p.name, **kw)

    def smugglers(self, world, nets, smugglers) -> None:
        pass

    def crossing(self, world, c, aboard, pilot) -> None:
        pass

    def payment(self, world, lid, payer, payee, when, amount) -> None:
        pass

    def call(self, world, lid, a, b, at, dur, net) -> None:
        pass

    def close(self) -> None:
        for s in self.sinks.values():
            s.close()


# --------------------------------------------------------------------------------------------
class UKPolice(Holder):
    """A UK police force: nominals with incidents and vehicles, graded 3x5x2 per row."""

    code = "UKPOL"
    marking = {"classification": "OFFICIAL-SENSITIVE", "caveat": None, "release_to": "GB", "grading": "2B"}
    HEADER = ["URN", "SURNAME", "FORENAMES", "DOB", "NATIONALITY", "ADDRESS", "TEL", "VRM", "VRM_COUNTRY",
              "VEH_MAKE", "INCIDENT_REF", "INCIDENT_DATE", "INCIDENT_TYPE", "GRADING"]

    def __init__(self, *a):
        super().__init__(*a)
        s = CsvSink(self.code, "ukpol/nominals.csv", self.root, self.truth, header=self.HEADER,
                    bad_at=bad_positions(self.rng, 2, 30, 3), corrupt=self.corrupt)
        m = query_mapping("ukpol_nominals", {
            "person": {"schema": "Person", "keys": ["URN"], "key_literal": "ukpol-person", "properties": {
                "name": prop(columns=["FORENAMES", "SURNAME"], join=" "), "firstName": prop("FORENAMES"),
                "lastName": prop("SURNAME"), "birthDate": prop("DOB", fmt="%d/%m/%Y"),
                "nationality": prop("NATIONALITY"), "address": prop("ADDRESS"), "phone": prop("TEL")}},
            "vehicle": {"schema": "Vehicle", "keys": ["VRM"], "key_literal": "ukpol-vehicle", "properties": {
                "registrationNumber": prop("VRM"), "country": prop("VRM_COUNTRY"), "model": prop("VEH_MAKE")}},
            "incident": {"schema": "Event", "keys": ["INCIDENT_REF"], "key_literal": "ukpol-incident", "properties": {
                "name": prop("INCIDENT_TYPE"), "date": prop("INCIDENT_DATE", fmt="%d/%m/%Y %H:%M", required=True),
                "country": prop(literal="GB"), "involved": prop(entity="person")}},
        }, region="GB", marking={"grading_column": "GRADING"})
        self.add(s, m)
        self.out = s

    def corrupt(self, row) -> str:
        if self.rng.random() < 0.5:
            row[0] = ""
            return "empty key column URN"
        row[11] = self.rng.choice(["N/K", "31/31/2023 25:00", "??"])
        return "unparsable required INCIDENT_DATE"

    def grading(self) -> str:
        r = self.rng
        return f"{r.choice('1122223')}{r.choice('AABBBCCD')}{r.choice('PPPC')}"

    def record(self, world, p, when: dt.datetime, kind: str, vehicle=None) -> None:
        r = self.rng
        given, family = self.name(p, bias=0.6)
        dob = ids.noisy_dob(r, p.dob, p.dob_est)
        phone = ""
        phones = p.phones + ([p.uk_phone] if p.uk_phone else [])
        if phones and r.random() < 0.7:
            phone = ids.render_phone(r, phones[r.randrange(len(phones))], "GB")
        eid = world.event_id()
        urn = f"{r.choice(['KT', 'WM', 'MP', 'LN'])}/{when.year}/{self.next_ref():06d}"
        row = [urn, family.upper() if r.random() < 0.5 else family, given, ids.fmt_date(dob, "dmy") if dob else "",
               COUNTRY_NAMES.get(p.nat, p.nat).upper() if r.random() < 0.9 else "", p.address if r.random() < 0.8 else "",
               phone, "", "", "", f"INC-{eid[1:]}", when.strftime("%d/%m/%Y %H:%M"), kind, self.grading()]
        ents = [("Person", p.id)]
        if vehicle is not None:
            row[7] = ids.render_plate(r, vehicle[1])
            row[8] = vehicle[2]
            row[9] = r.choice(["FORD TRANSIT", "MERCEDES SPRINTER", "RENAULT MASTER", "VW CRAFTER", ""])
            ents.append(("Vehicle", vehicle[0]))
        ents.append(("Event", eid))
        self.out.write(row, ents)

    def smugglers(self, world, nets, smugglers) -> None:
        r = self.rng
        by_id = {n.id: n for n in nets}
        for p in smugglers:
            if p.base != "GB" or p.role == "organiser":
                continue
            for _ in range(r.randint(1, 3)):
                net = by_id[p.nets[r.randrange(len(p.nets))]]
                d = net.formed + dt.timedelta(days=r.randrange(max(1, (net.dissolved - net.formed).days)))
                when = dt.datetime.combine(d, dt.time(r.randrange(24), r.randrange(60)))
                v = p.vehicles[r.randrange(len(p.vehicles))] if p.vehicles and r.random() < 0.7 else None
                self.record(world, p, when, "STOP CHECK" if v else r.choice(["INTEL REPORT", "ARREST"]), v)

    def crossing(self, world, c, aboard, pilot) -> None:
        if c.intercepted:
            return
        r = self.rng
        when = dt.datetime.combine(c.date, dt.time(r.randrange(5, 14), r.randrange(60)))
        if pilot.role == "pilot" and r.random() < 0.8:
            self.record(world, pilot, when, "ARREST - S.24 ILLEGAL ARRIVAL (PILOT)")
        for m in aboard:
            if r.random() < 0.03:
                if not m.uk_phone and r.random() < 0.6:
                    m.uk_phone = ids.phone(r, "GB")
                later = when + dt.timedelta(days=r.randint(20, 500))
                self.record(world, m, later, r.choice(["STOP CHECK", "ARREST - THEFT", "INTEL REPORT", "WELFARE CHECK"]))


# --------------------------------------------------------------------------------------------
class BorderForce(Holder):
    """Border Force: small-boat arrivals, one workbook per year, names as declared, DOB often 1 January."""

    code = "BF"
    marking = {"classification": "OFFICIAL-SENSITIVE", "caveat": None, "release_to": "GB", "grading": "1B"}
    HEADER = ["Port Ref", "Arrival Date", "Family Name", "Given Name(s)", "DOB", "Sex", "Nationality",
              "Phone Seized", "Vessel Ref"]
    MAPPING = query_mapping("bf_arrivals", {
        "person": {"schema": "Person", "keys": ["Port Ref"], "key_literal": "bf-person", "properties": {
            "name": prop(columns=["Given Name(s)", "Family Name"], join=" "), "firstName": prop("Given Name(s)"),
            "lastName": prop("Family Name"), "birthDate": prop("DOB", fmt="%d/%m/%Y"), "gender": prop("Sex"),
            "nationality": prop("Nationality"), "phone": prop("Phone Seized")}},
        "arrival": {"schema": "Event", "keys": ["Vessel Ref"], "key_literal": "bf-arrival", "properties": {
            "name": prop(literal="Small boat arrival"), "country": prop(literal="GB"),
            "date": prop("Arrival Date", fmt="%d/%m/%Y", required=True), "involved": prop(entity="person")}},
    }, region="GB")

    def sink(self, year: int):
        rel = f"bf/arrivals_{year}.xlsx"
        s = self.sinks.get(rel)
        if s is None:
            s = XlsxSink(self.code, rel, self.root, self.truth, header=self.HEADER, sheet=f"Arrivals {year}",
                         bad_at=bad_positions(self.rng, 2, 40, 2), corrupt=self.corrupt)
            self.add(s, self.MAPPING, "arrivals")
        return s

    def corrupt(self, row) -> str:
        if self.rng.random() < 0.5:
            row[0] = ""
            return "empty key column Port Ref"
        row[1] = self.rng.choice(["TBC", "00/00/0000", "see notes"])
        return "unparsable required Arrival Date"

    def crossing(self, world, c, aboard, pilot) -> None:
        if c.intercepted:
            return
        r = self.rng
        s = self.sink(c.date.year)
        vref = f"SB-{c.date.year}-{c.id[1:]}"
        for m in aboard:
            given, family = self.name(m, bias=0.5, typo_rate=0.05)
            if m.culture == "vietnamese" and r.random() < 0.25:
                given, family = family, given
            dob = ids.noisy_dob(r, m.dob, m.dob_est or r.random() < 0.2, missing=0.01)
            phone = ids.render_phone(r, m.phones[0], "GB") if m.phones and r.random() < 0.5 else ""
            ref = f"BF/DVR/{c.date.year % 100:02d}/{self.next_ref():07d}"
            row = [ref, ids.fmt_date(c.date, "dmy"), family, given, ids.fmt_date(dob, "dmy") if dob else "",
                   "F" if m.name.female else "M", COUNTRY_NAMES.get(m.nat, m.nat), phone, vref]
            s.write(row, [("Person", m.id), ("Event", c.id)])


# --------------------------------------------------------------------------------------------
class NCA(Holder):
    """National Crime Agency: call records on target lines, and targets as JSON lines."""

    code = "NCA"
    marking = {"classification": "OFFICIAL-SENSITIVE", "caveat": "UK/FR EYES ONLY", "release_to": "GB,FR", "grading": "1B"}

    def __init__(self, *a):
        super().__init__(*a)
        self.calls = CsvSink(self.code, "nca/call_records.csv", self.root, self.truth,
                             header=["CDR_ID", "A_NUMBER", "B_NUMBER", "CALL_START", "DURATION_SEC"],
                             bad_at=bad_positions(self.rng, 2, 40, 3), corrupt=self.corrupt_call)
        self.add(self.calls, query_mapping("nca_calls", {
            "call": {"schema": "Call", "keys": ["CDR_ID"], "key_literal": "nca-call", "properties": {
                "callerNumber": prop("A_NUMBER"), "receiverNumber": prop("B_NUMBER"),
                "date": prop("CALL_START", fmt="%Y-%m-%d %H:%M:%S", required=True), "duration": prop("DURATION_SEC")}},
        }, region="GB"))
        self.targets = JsonlSink(self.code, "nca/targets.jsonl", self.root, self.truth,
                                 bad_at=bad_positions(self.rng, 2, 10, 1), corrupt=self.corrupt_target)
        self.add(self.targets, query_mapping("nca_targets", {
            "target": {"schema": "Person", "keys": ["target_ref"], "key_literal": "nca-target", "properties": {
                "name": prop("full_name"), "alias": prop("aliases", split=";"), "birthDate": prop("dob", fmt="%Y-%m-%d"),
                "nationality": prop("nationality"), "phone": prop("phones", split=";")}},
            "operation": {"schema": "Organization", "keys": ["operation"], "key_literal": "nca-operation",
                          "properties": {"name": prop("operation")}},
            "membership": {"schema": "Membership", "keys": ["target_ref", "operation"], "key_literal": "nca-membership",
                           "properties": {"member": prop(entity="target"), "organization": prop(entity="operation"),
                                          "role": prop("assessed_role")}},
        }, region="GB"))
        self.watched: set[str] = set()

    def corrupt_call(self, row) -> str:
        row[3] = self.rng.choice(["0000-00-00 00:00:00", "ERR", "2023-13-45 99:99:99"])
        return "unparsable required CALL_START"

    def corrupt_target(self, rec) -> str:
        rec["target_ref"] = ""
        return "empty key target_ref"

    def smugglers(self, world, nets, smugglers) -> None:
        r = self.rng
        for i, net in enumerate(nets):
            if r.random() < 0.4 or (i == len(nets) - 1 and not self.watched):
                self.watched.add(net.id)
                op = f"Operation {net.codename.split('-')[0].title()} {net.id[1:]}"
                for p in net.members:
                    if r.random() < 0.7:
                        given, family = self.name(p, bias=0.7)
                        full = f"{family.upper()}, {given}" if r.random() < 0.4 else f"{given} {family}".strip()
                        aliases = ";".join(" ".join(self.name(p, bias=0.0)) for _ in range(r.randint(0, 2)))
                        dob = ids.noisy_dob(r, p.dob, p.dob_est, missing=0.15)
                        rec = {"target_ref": f"NCA-T-{self.next_ref():05d}", "full_name": full, "aliases": aliases,
                               "dob": dob.isoformat() if dob else "", "nationality": p.nat,
                               "phones": ";".join(p.phones[:r.randint(1, max(1, len(p.phones)))]),
                               "operation": op, "assessed_role": p.role.replace("_", " ")}
                        self.targets.write(rec, [("Person", p.id), ("Organization", net.id),
                                                 ("Membership", f"M-{p.id}-{net.id}")])

    def call(self, world, lid, a, b, at, dur, net) -> None:
        if net.id in self.watched and self.rng.random() < 0.7:
            self.calls.write([f"CDR{self.next_ref():09d}", a, b, at.strftime("%Y-%m-%d %H:%M:%S"), dur], [("Call", lid)])


# --------------------------------------------------------------------------------------------
class Intelligence(Holder):
    """An intelligence agency: a few subjects, SECRET, UK EYES ONLY, names in original script."""

    code = "MI"
    marking = {"classification": "SECRET", "caveat": "UK EYES ONLY", "release_to": "GB", "grading": "2B"}

    def __init__(self, *a):
        super().__init__(*a)
        self.out = CsvSink(self.code, "mi/subjects.csv", self.root, self.truth,
                           header=["SUBJECT_ID", "NAME_LATIN", "NAME_ORIGINAL", "YOB", "LOCATION", "KNOWN_NUMBERS"],
                           bad_at=[2], corrupt=self.corrupt)
        self.add(self.out, query_mapping("mi_subjects", {
            "subject": {"schema": "Person", "keys": ["SUBJECT_ID"], "key_literal": "mi-subject", "properties": {
                "name": prop("NAME_LATIN"), "alias": prop("NAME_ORIGINAL"), "birthDate": prop("YOB", fmt="%Y"),
                "country": prop("LOCATION"), "phone": prop("KNOWN_NUMBERS", split=" / ")}},
        }, region="GB"))

    def corrupt(self, row) -> str:
        row[0] = ""
        return "empty key column SUBJECT_ID"

    def smugglers(self, world, nets, smugglers) -> None:
        r = self.rng
        chosen = [n for n in nets if r.random() < 0.12] or nets[:2]
        for net in chosen:
            for p in net.by_role["organiser"] + [m for m in net.by_role["money_handler"] if r.random() < 0.3]:
                given, family = self.name(p, bias=0.8)
                orig = " ".join(self.name(p, arabic=1.0)) if CULTURES[p.culture].male[0][1] else ""
                self.out.write([f"MI-{self.next_ref():04d}", f"{given} {family}".strip(), orig, str(p.dob.year),
                                COUNTRY_NAMES.get(p.base, p.base or ""), " / ".join(p.phones)], [("Person", p.id)])


# --------------------------------------------------------------------------------------------
class FIU(Holder):
    """UK Financial Intelligence Unit: suspicious-activity reports of payments, Windows-1252 CSV."""

    code = "UKFIU"
    marking = {"classification": "OFFICIAL-SENSITIVE", "caveat": None, "release_to": "GB", "grading": "2C"}
    HEADER = ["SAR_REF", "REPORTED", "TXN_DATE", "PAYER_NAME", "PAYER_DOB", "PAYER_IBAN", "PAYEE_NAME",
              "PAYEE_IBAN", "AMOUNT", "CURRENCY", "NARRATIVE"]

    def __init__(self, *a):
        super().__init__(*a)
        self.out = CsvSink(self.code, "ukfiu/sar_transactions.csv", self.root, self.truth, header=self.HEADER,
                           encoding="cp1252", bad_at=bad_positions(self.rng, 2, 30, 3), corrupt=self.corrupt)
        self.add(self.out, query_mapping("ukfiu_sars", {
            "payer": {"schema": "Person", "keys": ["SAR_REF", "PAYER_NAME"], "key_literal": "ukfiu-payer", "properties": {
                "name": prop("PAYER_NAME"), "birthDate": prop("PAYER_DOB", fmt="%d.%m.%Y")}},
            "payee": {"schema": "Person", "keys": ["SAR_REF", "PAYEE_NAME"], "key_literal": "ukfiu-payee",
                      "properties": {"name": prop("PAYEE_NAME")}},
            "payer_account": {"schema": "BankAccount", "keys": ["PAYER_IBAN"], "key_literal": "ukfiu-account-payer",
                              "properties": {"iban": prop("PAYER_IBAN")}},
            "payee_account": {"schema": "BankAccount", "keys": ["PAYEE_IBAN"], "key_literal": "ukfiu-account-payee",
                              "properties": {"iban": prop("PAYEE_IBAN")}},
            "payment": {"schema": "Payment", "keys": ["SAR_REF"], "key_literal": "ukfiu-payment", "properties": {
                "payer": prop(entity="payer"), "beneficiary": prop(entity="payee"),
                "payerAccount": prop(entity="payer_account"), "beneficiaryAccount": prop(entity="payee_account"),
                "amount": prop("AMOUNT"), "currency": prop("CURRENCY"),
                "date": prop("TXN_DATE", fmt="%d.%m.%Y", required=True), "summary": prop("NARRATIVE")}},
        }))

    def corrupt(self, row) -> str:
        if self.rng.random() < 0.5:
            row[0] = ""
            return "empty key column SAR_REF"
        row[2] = self.rng.choice(["99.99.9999", "unbekannt", "--"])
        return "unparsable required TXN_DATE"

    def account(self, world, p) -> tuple[str, str]:
        if not p.accounts:
            c = "GB" if p.role == "migrant" or self.rng.random() < 0.5 else "DE"
            ib = ids.iban(self.rng, c)
            p.accounts.append((world.asset("A", "bank_account", ib, p.id, c), ib))
        return p.accounts[self.rng.randrange(len(p.accounts))]

    def payment(self, world, lid, payer, payee, when, amount) -> None:
        r = self.rng
        if r.random() >= (0.04 if payer.role in ("migrant", "pilot") else 0.3):
            return
        a1, a2 = self.account(world, payer), self.account(world, payee)
        g1, f1 = self.name(payer, bias=0.5)
        g2, f2 = self.name(payee, bias=0.5)
        gbp = round(amount * r.uniform(0.83, 0.88), 2)
        dob = ids.noisy_dob(r, payer.dob, payer.dob_est, missing=0.4)
        reported = when + dt.timedelta(days=r.randint(1, 60))
        row = [f"SAR{reported.year}{self.next_ref():07d}", ids.fmt_date(reported, "dot"), ids.fmt_date(when, "dot"),
               f"{g1} {f1}".strip(), ids.fmt_date(dob, "dot") if dob else "", ids.render_iban(r, a1[1]),
               f"{g2} {f2}".strip(), ids.render_iban(r, a2[1]), f"{gbp:.2f}", "GBP",
               f"£{gbp:,.2f} {r.choice(['family support', 'loan repay', 'travel', 'gift', 'rent', 'café business'])}"]
        self.out.write(row, [("Person", payer.id), ("Person", payee.id), ("BankAccount", a1[0]),
                             ("BankAccount", a2[0]), ("Payment", lid)])


# --------------------------------------------------------------------------------------------
class FrenchPolice(Holder):
    """French police (PAF/OCRIEST): beach interceptions and arrests; ';' CSV, surname first in capitals."""

    code = "FRPOL"
    marking = {"classification": "OFFICIAL", "caveat": None, "release_to": "GB", "grading": "2B"}
    HEADER = ["ID_PERSONNE", "N_PROCEDURE", "DATE_FAITS", "HEURE", "COMMUNE", "LATITUDE", "LONGITUDE", "NATURE",
              "NOM", "PRENOM", "NE_LE", "NATIONALITE", "TEL", "IMMAT", "PAYS_IMMAT", "EMBARCATION_HIN",
              "MOTEUR_MARQUE", "MOTEUR_NUM_SERIE"]

    def __init__(self, *a):
        super().__init__(*a)
        self.out = CsvSink(self.code, "frpol/interpellations.csv", self.root, self.truth, header=self.HEADER,
                           delimiter=";", encoding="utf-8-sig", bad_at=bad_positions(self.rng, 2, 40, 3),
                           corrupt=self.corrupt)
        self.add(self.out, query_mapping("frpol_interpellations", {
            "personne": {"schema": "Person", "keys": ["ID_PERSONNE"], "key_literal": "frpol-personne", "properties": {
                "name": prop(columns=["NOM", "PRENOM"], join=" "), "lastName": prop("NOM"), "firstName": prop("PRENOM"),
                "birthDate": prop("NE_LE", fmt="%d/%m/%Y"), "nationality": prop("NATIONALITE"), "phone": prop("TEL")}},
            "fait": {"schema": "Event", "keys": ["N_PROCEDURE"], "key_literal": "frpol-fait", "properties": {
                "name": prop("NATURE"), "date": prop("DATE_FAITS", fmt="%d/%m/%Y", required=True),
                "address": prop("COMMUNE"), "country": prop(literal="FR"),
                "summary": prop(columns=["LATITUDE", "LONGITUDE"], join=","), "involved": prop(entity="personne")}},
            "vehicule": {"schema": "Vehicle", "keys": ["IMMAT"], "key_literal": "frpol-vehicule", "properties": {
                "registrationNumber": prop("IMMAT"), "country": prop("PAYS_IMMAT")}},
            "embarcation": {"schema": "Vessel", "keys": ["EMBARCATION_HIN"], "key_literal": "frpol-embarcation",
                            "properties": {"registrationNumber": prop("EMBARCATION_HIN")}},
            "moteur": {"schema": "Vehicle", "keys": ["MOTEUR_NUM_SERIE"], "key_literal": "frpol-moteur", "properties": {
                "registrationNumber": prop("MOTEUR_NUM_SERIE"), "model": prop("MOTEUR_MARQUE")}},
        }, region="FR"))

    def corrupt(self, row) -> str:
        if self.rng.random() < 0.5:
            row[0] = ""
            return "empty key column ID_PERSONNE"
        row[2] = self.rng.choice(["inconnue", "32/13/2023", "XX/XX/XXXX"])
        return "unparsable required DATE_FAITS"

    def row(self, proc, k, d, hour, commune, lat, lon, nature, p, ents):
        r = self.rng
        given, family = self.name(p, bias=0.45, typo_rate=0.05)
        if p.culture == "vietnamese" and r.random() < 0.3:
            given, family = family, given
        dob = ids.noisy_dob(r, p.dob, p.dob_est, swap=0.06, missing=0.08)
        phone = ""
        if p.phones and r.random() < 0.4:
            phone = ids.render_phone(r, p.phones[r.randrange(len(p.phones))], "FR")
        return [f"{proc}-{k:02d}", proc, ids.fmt_date(d, "dmy"), f"{hour:02d}:{r.randrange(60):02d}", commune,
                f"{lat:.4f}", f"{lon:.4f}", nature, family.upper(), given, ids.fmt_date(dob, "dmy") if dob else "",
                ISO3.get(p.nat, p.nat), phone, "", "", "", "", ""], [("Person", p.id)] + ents

    def crossing(self, world, c, aboard, pilot) -> None:
        r = self.rng
        proc = f"{c.date.year}/{self.next_ref():06d}/OCRIEST"
        k = 0
        if c.intercepted:
            for m in aboard:
                if r.random() < 0.4:
                    k += 1
                    row, ents = self.row(proc, k, c.date, r.randrange(0, 7), c.beach, c.lat, c.lon,
                                         "TENTATIVE DE TRAVERSEE", m, [("Event", c.id)])
                    if r.random() < 0.8:
                        row[15], row[16], row[17] = c.boat[1], c.engine[2], c.engine[1]
                        ents += [("Vessel", c.boat[0]), ("Vehicle", c.engine[0])]
                    self.out.write(row, ents)
        if r.random() < 0.12:
            d = c.driver
            eid = world.event_id()
            row, ents = self.row(f"{c.date.year}/{self.next_ref():06d}/PAF", 1, c.date, r.randrange(0, 5), c.beach,
                                 c.lat, c.lon, "INTERPELLATION AIDE AU SEJOUR IRREGULIER", d, [("Event", eid)])
            if c.vehicle is not None:
                row[13], row[14] = ids.render_plate(r, c.vehicle[1]), c.vehicle[2]
                ents.append(("Vehicle", c.vehicle[0]))
            self.out.write(row, ents)


# --------------------------------------------------------------------------------------------
class Europol(Holder):
    """Europol: cross-border subjects, vehicles, accounts and engine purchases as an FtM entity stream."""

    code = "EUROPOL"
    marking = {"classification": "OFFICIAL", "caveat": None, "release_to": "GB,FR", "grading": "1B"}

    def __init__(self, *a):
        super().__init__(*a)
        self.out = JsonlSink(self.code, "europol/entities.ftm.jsonl", self.root, self.truth,
                             bad_at=bad_positions(self.rng, 2, 20, 2), corrupt=self.corrupt)
        self.add(self.out, None)
        self.known: dict[str, str] = {}

    def corrupt(self, rec) -> str:
        rec["id"] = ""
        return "empty entity id"

    def eid(self) -> str:
        return f"eu-{self.rng.getrandbits(64):016x}"

    def person(self, p) -> str:
        if p.id in self.known:
            return self.known[p.id]
        r = self.rng
        given, family = self.name(p, bias=0.6)
        props = {"name": [f"{given} {family}".strip()], "firstName": [given], "nationality": [p.nat.lower()]}
        if family:
            props["lastName"] = [family]
        dob = ids.noisy_dob(r, p.dob, p.dob_est, missing=0.1)
        if dob:
            props["birthDate"] = [dob.isoformat()]
        if p.phones:
            props["phone"] = p.phones[:2]
        if r.random() < 0.4:
            props["alias"] = [" ".join(self.name(p, bias=0.0))]
        eid = self.eid()
        self.known[p.id] = eid
        self.out.write({"id": eid, "schema": "Person", "properties": props}, [("Person", p.id)])
        return eid

    def smugglers(self, world, nets, smugglers) -> None:
        r = self.rng
        for i, net in enumerate(nets):
            if r.random() >= 0.3 and not (i == len(nets) - 1 and not self.known):
                continue
            for role in ("organiser", "logistics", "money_handler"):
                for p in net.by_role[role]:
                    pe = self.person(p)
                    for vid, pl, c in p.vehicles:
                        ve = self.eid()
                        self.out.write({"id": ve, "schema": "Vehicle", "properties": {
                            "registrationNumber": [pl], "country": [c.lower()]}}, [("Vehicle", vid)])
                        self.out.write({"id": self.eid(), "schema": "Ownership", "properties": {
                            "owner": [pe], "asset": [ve]}}, [("Ownership", f"O-{vid}")])
                    for aid, ib in p.accounts:
                        acc = self.eid()
                        self.out.write({"id": acc, "schema": "BankAccount", "properties": {"iban": [ib]}},
                                       [("BankAccount", aid)])
                        self.out.write({"id": self.eid(), "schema": "Ownership", "properties": {
                            "owner": [pe], "asset": [acc]}}, [("Ownership", f"O-{aid}")])

    def crossing(self, world, c, aboard, pilot) -> None:
        r = self.rng
        gid, serial, model, country, buyer, bought = c.engine
        if country in ("DE", "NL", "BG") and r.random() < 0.15:
            pe = self.person(buyer)
            ge = self.eid()
            self.out.write({"id": ge, "schema": "Vehicle", "properties": {
                "registrationNumber": [serial], "model": [model], "type": ["outboard engine"],
                "country": [country.lower()], "registrationDate": [bought]}}, [("Vehicle", gid)])
            self.out.write({"id": self.eid(), "schema": "Ownership", "properties": {
                "owner": [pe], "asset": [ge], "startDate": [bought]}}, [("Ownership", f"O-{gid}")])


# --------------------------------------------------------------------------------------------
class SocialMedia(Holder):
    """A social-media platform: accounts advertising crossings, with the phone numbers in the adverts."""

    code = "SOCMED"
    marking = {"classification": "OFFICIAL", "caveat": None, "release_to": "GB,FR", "grading": "2C"}
    ADVERTS = ["UK trip guaranteed, call or WhatsApp", "Safe boat to England this week, good price",
               "ڕێگای بەریتانیا - پەیوەندی بکە", "رحلة الى بريطانيا مضمونة", "Đi Anh an toàn, liên hệ",
               "Udhëtim për në Angli, shkruaj", "سفر به انگلیس با قایق، تماس بگیرید", "Lorry or boat, family price"]

    def __init__(self, *a):
        super().__init__(*a)
        self.out = JsonlSink(self.code, "socmed/advert_accounts.jsonl", self.root, self.truth,
                             bad_at=bad_positions(self.rng, 2, 12, 2), corrupt=self.corrupt)
        self.add(self.out, query_mapping("socmed_accounts", {
            "account": {"schema": "UserAccount", "keys": ["account_id"], "key_literal": "socmed-account", "properties": {
                "username": prop("handle"), "name": prop("display_name"), "service": prop("platform"),
                "phone": prop("advert_phone"), "summary": prop("advert_text"),
                "createdAt": prop("created_at", fmt="%m/%d/%Y %H:%M")}},
        }))

    def corrupt(self, rec) -> str:
        rec["account_id"] = ""
        return "empty key account_id"

    def smugglers(self, world, nets, smugglers) -> None:
        r = self.rng
        for p in smugglers:
            for sid, handle, platform, phone in p.socials:
                given, family = self.name(p, bias=0.3, arabic=0.3)
                display = r.choice([f"{given} {family}".strip(), handle.split("_")[0].title(), "UK Travel ✈", given])
                created = dt.datetime(2019, 1, 1) + dt.timedelta(seconds=r.randrange(6 * 365 * 86400))
                self.out.write({"account_id": str(r.randrange(10**9, 10**12)), "handle": "@" + handle,
                                "display_name": display, "platform": platform,
                                "created_at": created.strftime("%m/%d/%Y %H:%M"),  # a US platform
                                "advert_phone": ids.render_phone(r, phone, "XX"),
                                "advert_text": self.ADVERTS[r.randrange(len(self.ADVERTS))]}, [("UserAccount", sid)])


HOLDERS = [UKPolice, BorderForce, NCA, Intelligence, FIU, FrenchPolice, Europol, SocialMedia]


class Holders:
    """Routes what happens in the world to every holder, and collects their manifests."""

    def __init__(self, root: Path, truth, seed: int):
        self.all = [h(root, truth, seed) for h in HOLDERS]

    def smugglers(self, world, nets, smugglers):
        for h in self.all:
            h.smugglers(world, nets, smugglers)

    def crossing(self, world, c, aboard, pilot):
        for h in self.all:
            h.crossing(world, c, aboard, pilot)

    def payment(self, world, *a):
        for h in self.all:
            h.payment(world, *a)

    def call(self, world, *a):
        for h in self.all:
            h.call(world, *a)

    def finish(self, world):
        for h in self.all:
            h.close()

    def manifest(self) -> list[dict]:
        return [e for h in self.all for e in h.manifest]
