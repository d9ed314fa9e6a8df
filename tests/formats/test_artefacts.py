"""Device artefacts: address books (CSV, LDIF, XML), job logs and configuration files.

No tool here writes a copier's address book, so the samples are hand-written in the shape of
vendor exports (a Ricoh Web Image Monitor CSV with its ``#`` preamble, a Xerox-like UTF-16 TSV,
a Konica-Minolta-like nested XML, an OpenLDAP LDIF with ``userPassword::`` base64 per
RFC 2849); the names, addresses and secrets in them are made up.
"""

from __future__ import annotations

import base64
import contextlib
import random
import time

import pytest

from forensics.formats.artefacts import AddressBookParser, ConfigParser, JobLogParser
from forensics.formats.base import FormatParser, NotThisFormat, ParseContext

RICOH_CSV = b"""\
# Format Version: 4.5.0.0
# Generated at: 2024/03/01 09:12:44
Index in ACLs and Groups,Name,Key Display,Select Title,E-mail Address,Fax Destination,Folder: Path,Folder: Login User Name,Folder: Login Password
[00001],Jane Example,Jane,AB,jane.example@example.com,+1 212 555 0100,\\\\fileserver\\scans\\jane,CORP\\jexample,Winter2024!
[00002],"Doe, John",John,CD,john.doe@example.org,,\\\\fileserver\\scans\\john,CORP\\jdoe,********
[00003],Reception Fax,Recep,EF,,+44 20 7946 0958,,,
"""

XEROX_TSV = (
    "DisplayName\tFirstName\tLastName\tE-mailAddress\tFaxNumber\tSMBServer\tSMBPath\tSMBUser\tSMBPassword\r\n"
    "Jürgen Beispiel\tJürgen\tBeispiel\tj.beispiel@example.de\t+49 30 901820\tnas01\tscan/jb\tjb\tGeheim#7\r\n"
)
XEROX_UTF16 = b"\xff\xfe" + XEROX_TSV.encode("utf-16-le")

KONICA_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<AbbrList version="2">
  <Abbr>
    <No>1</No>
    <Name>Jane Example</Name>
    <Email><Address>jane.example@example.com</Address></Email>
    <Fax><Number>+12125550100</Number></Fax>
    <Smb><Host>fileserver</Host><Path>scans/jane</Path><User>CORP\\jexample</User><Password>Winter2024!</Password></Smb>
  </Abbr>
  <Abbr>
    <No>2</No>
    <Name>Sales Team</Name>
    <Email><Address>sales@example.com</Address></Email>
  </Abbr>
</AbbrList>
"""

PROPERTY_XML = b"""<?xml version="1.0"?>
<Destinations>
  <Destination>
    <Property name="DisplayName" value="Legal Fax"/>
    <Property name="FaxNumber" value="+1 646 555 0199"/>
  </Destination>
</Destinations>
"""

LDIF = (
    "version: 1\n"
    "\n"
    "# Jane\n"
    "dn: cn=Jane Example,ou=People,dc=example,dc=com\n"
    "objectClass: inetOrgPerson\n"
    "cn: Jane Example\n"
    "mail: jane.example@example.com\n"
    "facsimileTelephoneNumber: +1 212 555 0100\n"
    f"userPassword:: {base64.b64encode(b'{SSHA}Winter2024!').decode()}\n"
    "\n"
    "dn: cn=John Doe,ou=People,dc=example,dc=com\n"
    "cn: John Doe\n"
    "description: a description long enough that ldapsearch folded\n"
    "  it onto a second line\n"
    "mail: john.doe@example.org\n"
).encode()

JOB_LOG = b"""Job ID,User Name,Document Name,Date,Pages,Copies,Status
101,jexample,Quarterly Report.docx,2024-03-01 09:15:02,12,1,Completed
102,jdoe,Payroll March.xlsx,2024-03-01 10:02:44,3,2,Completed
103,jexample,"Offer letter, J. Doe.pdf",2024-03-02 16:40:00,2,1,Canceled
"""

DEVICE_INI = b"""; device configuration
[SMTP]
Server = smtp.example.com
Port = 587
User = scanner@example.com
Password = SmtpSecret1

[LDAP]
Host = ldap.example.com
BindDN = cn=scanner,dc=example,dc=com
BindPassword = LdapSecret2

[SNMP]
CommunityName = private
"""

SNMPD_CONF = b"""# net-snmp agent on the controller
sysLocation    3rd floor copy room
sysContact     helpdesk@example.com
rocommunity    public
rwcommunity    s3cretRW 10.0.0.0/8
"""

CONFIG_XML = b"""<?xml version="1.0"?>
<DeviceSettings>
  <Network><Hostname>MFP-3F-01</Hostname></Network>
  <Smtp><Server>smtp.example.com</Server><AuthUser>scanner</AuthUser><AuthPassword>SmtpSecret1</AuthPassword></Smtp>
  <Snmp community="private" version="2c"/>
</DeviceSettings>
"""


def _texts(job: object) -> str:
    return "\n".join(text.text for text in job.texts)  # type: ignore[attr-defined]


def test_ricoh_csv_address_book() -> None:
    assert AddressBookParser.sniff(RICOH_CSV[:400], "addressbook.csv")
    assert not JobLogParser.sniff(RICOH_CSV[:400], "addressbook.csv")
    assert not ConfigParser.sniff(RICOH_CSV[:400], "addressbook.csv")
    job = AddressBookParser().parse(RICOH_CSV, ParseContext(name="addressbook.csv"))
    assert job.format == "address-book" and job.complete
    extra = dict(job.metadata.extra)
    assert extra["contacts"] == "3"
    assert extra["credentials"] == "1"  # the masked "********" is not a credential
    assert extra["e-mail addresses"] == "2" and extra["fax numbers"] == "2"
    assert extra["credential fields"] == "Folder: Login Password"
    first = job.texts[0]
    assert first.name == "contact 1"
    assert "Folder: Login Password: Winter2024!" in first.text  # matches the Password rule
    assert "E-mail Address: jane.example@example.com" in first.text
    assert first.source_offset == RICOH_CSV.index(b"[00001]")
    assert job.texts[1].source_offset == RICOH_CSV.index(b"[00002]")
    assert "Name: Doe, John" in job.texts[1].text  # quoted cell with a comma


def test_utf16_tsv_address_book() -> None:
    assert AddressBookParser.sniff(XEROX_UTF16[:200], None)
    job = AddressBookParser().parse(XEROX_UTF16, ParseContext(name="AddressBook.txt"))
    text = job.texts[0].text
    assert "DisplayName: Jürgen Beispiel" in text and "SMBPassword: Geheim#7" in text
    assert job.texts[0].source_offset == 2 + 2 * XEROX_TSV.index("Jürgen")
    assert dict(job.metadata.extra)["source"] == "tsv"


def test_nested_xml_address_book() -> None:
    assert AddressBookParser.sniff(KONICA_XML[:300], "abbr.xml")
    assert not ConfigParser.sniff(KONICA_XML[:300], "abbr.xml")
    job = AddressBookParser().parse(KONICA_XML, ParseContext(name="abbr.xml"))
    extra = dict(job.metadata.extra)
    assert extra["contacts"] == "2"  # the <Smb> block belongs to entry 1, not a contact of its own
    assert extra["credentials"] == "1"
    first = job.texts[0]
    assert "Name: Jane Example" in first.text
    assert "Email/Address: jane.example@example.com" in first.text
    assert "Smb/Password: Winter2024!" in first.text
    assert first.source_offset == KONICA_XML.index(b"<Abbr>")
    assert first.name == "contact 1 (AbbrList/Abbr)"


def test_property_xml_address_book() -> None:
    job = AddressBookParser().parse(PROPERTY_XML, ParseContext())
    assert "FaxNumber: +1 646 555 0199" in job.texts[0].text
    assert dict(job.metadata.extra)["fax numbers"] == "1"


def test_ldif_address_book() -> None:
    assert AddressBookParser.sniff(LDIF[:200], "export.ldif")
    assert AddressBookParser.sniff(LDIF[:200], None)
    assert not ConfigParser.sniff(LDIF[:200], None)
    job = AddressBookParser().parse(LDIF, ParseContext(name="export.ldif"))
    extra = dict(job.metadata.extra)
    assert extra["contacts"] == "2" and extra["credentials"] == "1" and extra["source"] == "ldif"
    first = job.texts[0]
    assert first.name == "contact 1 (cn=Jane Example,ou=People,dc=example,dc=com)"
    assert "userPassword: {SSHA}Winter2024!" in first.text  # base64 decoded
    assert first.source_offset == LDIF.index(b"dn: cn=Jane")
    assert "folded it onto a second line" in job.texts[1].text  # RFC 2849 line folding


def test_job_log() -> None:
    assert JobLogParser.sniff(JOB_LOG[:100], "joblog.csv")
    assert not AddressBookParser.sniff(JOB_LOG[:100], "joblog.csv")
    job = JobLogParser().parse(JOB_LOG, ParseContext(name="joblog.csv"))
    meta = job.metadata
    assert job.format == "job-log"
    assert meta.user == "jexample" and meta.document_name == "Quarterly Report.docx"
    assert meta.submitted == "2024-03-01T09:15:02Z" and meta.completed == "2024-03-02T16:40:00Z"
    assert meta.pages == 17
    extra = dict(meta.extra)
    assert (
        extra["records"] == "3" and extra["users"] == "jdoe, jexample" and extra["documents"] == "3"
    )
    assert any("time zone" in note for note in job.notes)
    assert job.texts[2].source_offset == JOB_LOG.index(b"103,")
    assert "Document Name: Offer letter, J. Doe.pdf" in job.texts[2].text


def test_ini_config() -> None:
    assert ConfigParser.sniff(
        DEVICE_INI[:200], None
    )  # content alone: settings with credential keys
    assert ConfigParser.sniff(DEVICE_INI[:200], "device.ini")
    job = ConfigParser().parse(DEVICE_INI, ParseContext(name="device.ini"))
    extra = dict(job.metadata.extra)
    assert job.format == "config"
    assert extra["credentials"] == "3" and extra["sections"] == "3"
    assert (
        extra["credential fields"] == "[SMTP] Password, [LDAP] BindPassword, [SNMP] CommunityName"
    )
    assert extra["[LDAP] BindDN"] == "cn=scanner,dc=example,dc=com"
    smtp = job.texts[0]
    assert smtp.name == "settings 1 ([SMTP])" and "Password: SmtpSecret1" in smtp.text
    assert smtp.source_offset == DEVICE_INI.index(b"[SMTP]")
    assert "CommunityName: private" in _texts(job)  # matches the SNMP community rule


def test_space_separated_conf_by_name_only() -> None:
    assert ConfigParser.sniff(SNMPD_CONF, "snmpd.conf")
    assert not ConfigParser.sniff(SNMPD_CONF, None)  # key value pairs need the .conf name
    job = ConfigParser().parse(SNMPD_CONF, ParseContext(name="snmpd.conf"))
    text = _texts(job)
    assert "rwcommunity: s3cretRW 10.0.0.0/8" in text
    assert dict(job.metadata.extra)["credentials"] == "2"


def test_xml_config() -> None:
    assert ConfigParser.sniff(CONFIG_XML[:300], "settings.xml")
    assert not AddressBookParser.sniff(CONFIG_XML[:300], "settings.xml")
    job = ConfigParser().parse(CONFIG_XML, ParseContext(name="settings.xml"))
    text = _texts(job)
    assert "AuthPassword: SmtpSecret1" in text and "Snmp/community: private" in text
    extra = dict(job.metadata.extra)
    assert extra["credentials"] == "2" and extra["Hostname"] == "MFP-3F-01"


NOT_OURS = [
    b"Dear Jane,\nplease find attached the report we discussed on Monday.\nRegards, John\n",
    b"import os\nimport sys\n\ndef main():\n    print(os.getcwd())\n",
    b"1,2,3\n4,5,6\n7,8,9\n",
    b"%!PS-Adobe-3.0\n%%Title: Test\n%%EndComments\n",
    b'\x1b%-12345X@PJL JOB NAME="x"\r\n@PJL SET HOLDKEY=1234\r\n',
    b"DeskJet root 2 [20/May/1999:19:21:05 +0000] 1 1 acme-123\n",
    b"<html><head><title>Status</title></head><body>Toner low</body></html>",
    b"Hprinthost\nPalice\nldfA001printhost\n",
    bytes(range(256)) * 4,
    b"a=1\nb=2\nc=3\n",  # key=value without a config name or any credential key
]


@pytest.mark.parametrize("data", NOT_OURS)
def test_conservative_sniff(data: bytes) -> None:
    for parser in (AddressBookParser, JobLogParser, ConfigParser):
        assert not parser.sniff(data, None), parser.name
        assert not parser.sniff(data, "notes.txt"), parser.name


def test_file_name_widens_the_address_book_columns() -> None:
    phone_list = b"Name,Phone,Department\nJane Example,+1 212 555 0100,Legal\n"
    assert AddressBookParser.sniff(phone_list, "/NVRAM/addressbook.csv")
    assert not AddressBookParser.sniff(phone_list, "export.csv")
    job = AddressBookParser().parse(phone_list, ParseContext(name="addressbook.csv"))
    assert "Phone: +1 212 555 0100" in job.texts[0].text


def test_xml_needs_credential_or_two_settings() -> None:
    office = b'<?xml version="1.0"?><cp:coreProperties><dc:title>Memo</dc:title><Author>jdoe</Author></cp:coreProperties>'
    assert not ConfigParser.sniff(office, "core.xml")
    assert ConfigParser.sniff(
        b"<Config><SmtpServer>mail</SmtpServer><LdapServer>ldap</LdapServer></Config>", None
    )


def test_registered() -> None:
    for name, parser in (
        ("address-book", AddressBookParser),
        ("job-log", JobLogParser),
        ("config", ConfigParser),
    ):
        assert FormatParser.registry[name] is parser


def _run(parser: FormatParser, data: bytes, name: str | None = None, budget: float = 2) -> None:
    started = time.monotonic()
    with contextlib.suppress(NotThisFormat):
        parser.parse(data, ParseContext(name=name))
    assert time.monotonic() - started < budget


def test_hostile_xml() -> None:
    laughs = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<AddressBook><Entry><Name>&lol3;</Name><EMail>x@example.com</EMail></Entry></AddressBook>"""
    _run(AddressBookParser(), laughs)
    _run(ConfigParser(), laughs)
    deep = b"<AddressBook>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</AddressBook>"
    _run(AddressBookParser(), deep)
    _run(ConfigParser(), deep)
    truncated = KONICA_XML[: KONICA_XML.index(b"<No>2</No>")]
    job = AddressBookParser().parse(truncated, ParseContext())
    assert not job.complete and "Smb/Password: Winter2024!" in job.texts[0].text
    for cut in range(0, len(KONICA_XML), 5):
        _run(AddressBookParser(), KONICA_XML[:cut])
        _run(ConfigParser(), KONICA_XML[:cut])


def test_hostile_text() -> None:
    rng = random.Random(2849)
    samples = [RICOH_CSV, LDIF, JOB_LOG, DEVICE_INI, XEROX_UTF16, CONFIG_XML]
    for sample in samples:
        for cut in range(0, len(sample), 3):
            for parser in (AddressBookParser(), JobLogParser(), ConfigParser()):
                _run(parser, sample[:cut])
        for _ in range(30):
            junk = sample[:120] + rng.randbytes(rng.randint(0, 3000))
            for parser in (AddressBookParser(), JobLogParser(), ConfigParser()):
                _run(parser, junk)
    # one enormous line, an unterminated quote, a huge LDIF value, many columns
    _run(AddressBookParser(), RICOH_CSV + b"[9]," + b"x" * 5_000_000 + b"\n", budget=5)
    _run(AddressBookParser(), RICOH_CSV + b'[9],"' + b"unterminated\n" * 50_000, budget=5)
    _run(AddressBookParser(), LDIF + b"description:: " + b"QUFB" * 1_000_000 + b"\n", budget=5)
    _run(
        AddressBookParser(),
        b",".join([b"Name", b"E-mail"] + [b"c%d" % i for i in range(100_000)]) + b"\n",
        budget=5,
    )


def test_many_records_stay_bounded() -> None:
    rows = b"".join(
        b"[%05d],Person %d,P,AB,p%d@example.com,,,,\n" % (i, i, i) for i in range(30_000)
    )
    data = RICOH_CSV + rows
    started = time.monotonic()
    job = AddressBookParser().parse(data, ParseContext())
    assert time.monotonic() - started < 10
    assert dict(job.metadata.extra)["contacts"] == str(30_003)
    assert len(job.texts) <= 10_000 + 30_003 // 500 + 1
    assert job.texts[-1].name.startswith("contact ") and "-" in job.texts[-1].name  # grouped


def test_text_test_counts_the_same_characters_as_the_control_class() -> None:
    """_textual counts control characters by str.translate: the same count as the character
    class [\\x00-\\x08\\x0b\\x0e-\\x1f\\ufffd] it stands for, at and around the 1 % bound."""
    import re

    from forensics.formats.artefacts import _textual

    control = re.compile("[\x00-\x08\x0b\x0e-\x1f\ufffd]")
    alphabet = [chr(c) for c in range(0x21)] + ["a", " ", "\ufffd", "\ufffc", "é", "\x7f"]
    rng = random.Random(11)
    for _ in range(2000):
        size = rng.choice((1, 99, 100, 101, 400, 4096, 5000))
        text = "".join(
            rng.choice(alphabet) if rng.random() < rng.choice((0.005, 0.01, 0.02)) else "x"
            for _ in range(size)
        )
        sample = text[:4096]
        expected = bool(sample.strip()) and len(control.findall(sample)) <= len(sample) // 100
        assert _textual(text) is expected


def test_sniffers_decode_a_head_once_and_answer_as_for_a_fresh_copy() -> None:
    """The three text sniffers share one decoding of the head they are asked about; a new
    head (even with equal bytes) is decoded again, and the answers are the same either way."""
    book = b"Name,E-mail,Fax\r\nJane Example,jane@example.com,+1 202 555 0147\r\n"
    log = b"User,Document,Date,Pages\r\njdoe,payroll.docx,2024-06-11 09:30,4\r\n"
    config = b"[SMTP]\r\nServer=mail.example.com\r\nPassword=Winter2024!\r\n"
    for head in (book, log, config, b"\x1bE\x1b&l0O" * 200, bytes(range(256))):
        first = [p.sniff(head, None) for p in (AddressBookParser, JobLogParser, ConfigParser)]
        again = [p.sniff(head, None) for p in (AddressBookParser, JobLogParser, ConfigParser)]
        fresh = [
            p.sniff(bytes(bytearray(head)), None)
            for p in (AddressBookParser, JobLogParser, ConfigParser)
        ]
        assert first == again == fresh
    assert AddressBookParser.sniff(book, "addressbook.csv")
    assert JobLogParser.sniff(log, "joblog.csv")
    assert ConfigParser.sniff(config, "device.ini")
    assert not any(p.sniff(bytes(range(256)), None) for p in (AddressBookParser, ConfigParser))
