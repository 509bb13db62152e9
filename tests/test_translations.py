"""The Simplified Chinese catalogues are complete, keep every placeholder, and their compiled .mo files are
current: the project's catalogue (fengqiao/locale) and each app's own (fengqiao/<app>/locale)."""

from __future__ import annotations

import ast
import gettext
import re
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.utils import translation

import fengqiao

PACKAGE_DIR = Path(fengqiao.__file__).resolve().parent
MAIN_PO = PACKAGE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
CATALOGUES = sorted(PACKAGE_DIR.glob("**/locale/zh_Hans/LC_MESSAGES/django.po"))

# printf-style conversions as Python's % operator reads them; "%%" is a literal percent sign
PYTHON_FORMAT = re.compile(r"%(?:\((?P<name>[^)]*)\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<conv>[diouxXeEfFgGcrsa%])")
BRACE_FORMAT = re.compile(r"(?<!\{)\{([^{}]*)\}(?!\})")


@dataclass
class Entry:
    line: int
    flags: set[str] = field(default_factory=set)
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"


def _unquote(text: str, path: Path, line: int) -> str:
    if not (len(text) >= 2 and text[0] == text[-1] == '"'):
        raise AssertionError(f"{path}:{line}: not a quoted string: {text}")
    return ast.literal_eval(text)


def parse_po(path: Path) -> list[Entry]:
    """A small reader for the PO files makemessages writes (obsolete #~ entries are skipped)."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int] | None = None

    def finish() -> None:
        nonlocal current, target
        if current is not None:
            entries.append(current)
        current, target = None, None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            continue
        if current is None or (target is not None and target[0] == "msgstr" and line.startswith(("#", "msg"))
                               and not line.startswith("msgstr[")):
            finish()
            current = Entry(line=number)
        if line.startswith("#,"):
            current.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            assert target is not None, f"{path}:{number}: continuation line without a keyword"
            value = _unquote(line, path, number)
            kind, index = target
            if kind == "msgstr":
                current.msgstr[index] += value
            else:
                setattr(current, kind, getattr(current, kind) + value)
        else:
            match = re.fullmatch(r"(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(\".*\")", line)
            assert match, f"{path}:{number}: cannot read {raw!r}"
            kind, index, text = match.group(1), int(match.group(2) or 0), _unquote(match.group(3), path, number)
            if kind == "msgstr":
                current.msgstr[index] = text
            else:
                setattr(current, kind, text)
            target = (kind, index)
    finish()
    return entries


def placeholders(text: str, flags: set[str]) -> Counter[str]:
    found: Counter[str] = Counter()
    if "python-format" in flags:
        for match in PYTHON_FORMAT.finditer(text):
            if match.group("conv") != "%":
                found[match.group(0)] += 1
    if "python-brace-format" in flags:
        found.update("{" + name + "}" for name in BRACE_FORMAT.findall(text))
    return found


@pytest.fixture(scope="module", params=CATALOGUES, ids=lambda p: str(p.relative_to(PACKAGE_DIR).parents[2]))
def po_path(request) -> Path:
    return request.param


@pytest.fixture(scope="module")
def catalogue(po_path) -> list[Entry]:
    entries = parse_po(po_path)
    assert entries and entries[0].msgid == "", "the catalogue starts with its header"
    return entries


@pytest.fixture(scope="module")
def messages(catalogue) -> list[Entry]:
    return catalogue[1:]


def test_header(catalogue):
    header = catalogue[0]
    assert "fuzzy" not in header.flags
    fields = dict(line.split(": ", 1) for line in header.msgstr[0].splitlines() if ": " in line)
    assert fields["Language"] == "zh_Hans"
    assert fields["Content-Type"] == "text/plain; charset=UTF-8"
    assert fields["Plural-Forms"] == "nplurals=1; plural=0;"


def test_the_project_catalogue_is_found():
    assert MAIN_PO in CATALOGUES


def test_every_message_is_translated(messages, po_path):
    if po_path == MAIN_PO:
        assert len(messages) > 400
    untranslated = [f"line {e.line}: {e.msgid!r}" for e in messages if not e.msgstr.get(0)]
    assert not untranslated, "\n".join(untranslated)


def test_no_message_is_fuzzy(messages):
    fuzzy = [f"line {e.line}: {e.msgid!r}" for e in messages if "fuzzy" in e.flags]
    assert not fuzzy, "\n".join(fuzzy)


def test_plurals_have_the_one_chinese_form(messages, po_path):
    plurals = [e for e in messages if e.msgid_plural is not None]
    if po_path == MAIN_PO:
        assert plurals
    wrong = [f"line {e.line}: {sorted(e.msgstr)}" for e in plurals if sorted(e.msgstr) != [0]]
    assert not wrong, "\n".join(wrong)


def test_placeholders_are_kept(messages):
    wrong = []
    for e in messages:
        wanted = placeholders(e.msgid, e.flags)
        if e.msgid_plural is not None:
            # a plural's count may be spelled out in the singular; every other placeholder is in both
            wanted |= placeholders(e.msgid_plural, e.flags)
        for index, text in e.msgstr.items():
            got = placeholders(text, e.flags)
            if got != wanted:
                wrong.append(f"line {e.line} msgstr[{index}]: {dict(wanted)} != {dict(got)}")
    assert not wrong, "\n".join(wrong)


def test_percent_signs_survive_formatting(messages):
    # a translation with a stray % breaks the % operator at run time
    for e in messages:
        if "python-format" not in e.flags:
            continue
        for text in e.msgstr.values():
            stripped = PYTHON_FORMAT.sub("", text)
            assert "%" not in stripped, f"line {e.line}: stray % in {text!r}"


def test_compiled_catalogue_is_current(catalogue, messages, po_path):
    mo_path = po_path.with_suffix(".mo")
    data = mo_path.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == 0x950412DE else ">"
    count = struct.unpack(order + "I", data[8:12])[0]
    assert count == len(catalogue), f"{mo_path} holds {count} entries, {po_path.name} {len(catalogue)}"

    with mo_path.open("rb") as fp:
        mo = gettext.GNUTranslations(fp)
    assert mo.info()["plural-forms"] == "nplurals=1; plural=0;"
    stale = []
    for e in messages:
        if e.msgid_plural is None:
            got = mo.gettext(e.msgid) if e.msgctxt is None else mo.pgettext(e.msgctxt, e.msgid)
        elif e.msgctxt is None:
            got = mo.ngettext(e.msgid, e.msgid_plural, 1)
        else:
            got = mo.npgettext(e.msgctxt, e.msgid, e.msgid_plural, 1)
        if got != e.msgstr[0]:
            stale.append(f"line {e.line}: {e.msgid!r}: .mo has {got!r}, .po has {e.msgstr[0]!r}")
    assert not stale, "recompile the catalogue:\n" + "\n".join(stale)


def test_key_model_strings_are_chinese():
    from fengqiao.cases.models import Case, Category
    from fengqiao.cases.states import CaseState
    from fengqiao.geo.models import Grid, Region
    from fengqiao.org.models import Department, Role

    with translation.override("zh-hans"):
        assert str(Grid._meta.verbose_name) == "网格"
        assert str(Case._meta.verbose_name) == "事件"
        assert str(Category._meta.verbose_name) == "事项分类"
        assert str(Region._meta.verbose_name) == "行政区划"
        assert str(Department._meta.verbose_name) == "部门"
        assert str(Role.GRID_WORKER.label) == "网格员"
        assert str(Role.GRID_CHIEF.label) == "网格长"
        assert str(CaseState.REJECTED.label) == "不予立案"
        assert str(CaseState.PARKED.label) == "挂账"
    with translation.override("en"):
        assert str(Grid._meta.verbose_name) == "grid"
        assert str(Role.GRID_WORKER.label) == "grid worker"


@pytest.mark.parametrize(("context", "msgid", "meant"), [
    ("mediation", "Sessions", "调解会"), ("mediation", "minutes", "笔录"), ("mediation", "Reopen", "重新调解"),
    ("affairs", "title", "标题"), ("affairs", "item", "事项"),
])
def test_an_apps_own_sense_of_a_common_word_is_kept(context, msgid, meant):
    """Django and the project's catalogue come before an app's own, so a word an app means differently
    ("minutes" of a session, not of an hour) carries the app's context."""
    with translation.override("zh-hans"):
        assert translation.pgettext(context, msgid) == meant
        assert translation.gettext(msgid) != meant  # without the context another catalogue's sense wins
