"""Field encryption, key rotation, blind indexes and masking of personal data."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import connection, models
from django.db.migrations.writer import MigrationWriter
from django.test.utils import isolate_apps

from fengqiao.core import crypto
from fengqiao.core.crypto import DecryptionError, blind_index, decrypt, derived_key, encrypt, reencrypt
from fengqiao.core.fields import EncryptedTextField
from fengqiao.core.masking import (
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
    normalise_id_number,
    normalise_phone,
)

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


# --- encrypt / decrypt ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["13812341234", "张三丰", "浙江省杭州市西湖区留下街道东岳村3组15号", " x ", "a" * 5000]
)
def test_round_trip(text):
    token = encrypt(text)
    assert text not in token
    assert token.isascii()
    assert decrypt(token) == text


def test_each_encryption_is_different():
    assert encrypt("13812341234") != encrypt("13812341234")


def test_default_key_is_derived_from_the_secret_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    settings.SECRET_KEY = "first secret " * 4
    token = encrypt("张三")
    assert Fernet(derived_key("first secret " * 4)).decrypt(token.encode()).decode() == "张三"

    settings.SECRET_KEY = "second secret " * 4
    with pytest.raises(DecryptionError):
        decrypt(token)

    # Django's secret key rotation: the old key as a fallback keeps old values readable
    settings.SECRET_KEY_FALLBACKS = ["first secret " * 4]
    assert decrypt(token) == "张三"
    assert Fernet(derived_key("second secret " * 4)).decrypt(encrypt("李四").encode()).decode() == "李四"


def test_key_rotation(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    old_token = encrypt("13812341234")

    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert decrypt(old_token) == "13812341234"
    new_token = encrypt("13900001111")
    assert Fernet(NEW_KEY).decrypt(new_token.encode()) == b"13900001111"
    rotated = reencrypt(old_token)

    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    assert decrypt(rotated) == "13812341234"
    assert decrypt(new_token) == "13900001111"
    with pytest.raises(DecryptionError):
        decrypt(old_token)


def test_keys_may_be_one_comma_separated_string(settings):
    settings.FIELD_ENCRYPTION_KEYS = f"{NEW_KEY}, {OLD_KEY}"
    token = Fernet(OLD_KEY).encrypt(b"x").decode()
    assert decrypt(token) == "x"
    assert Fernet(NEW_KEY).decrypt(encrypt("y").encode()) == b"y"


def test_a_token_from_another_key_fails_clearly(settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    foreign = Fernet(Fernet.generate_key()).encrypt(b"13812341234").decode()
    with pytest.raises(DecryptionError, match="FIELD_ENCRYPTION_KEYS"):
        decrypt(foreign)
    with pytest.raises(DecryptionError):
        decrypt("not a token")
    with pytest.raises(DecryptionError):
        reencrypt(foreign)


def test_a_configured_key_replaces_the_derived_one(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    derived_token = encrypt("x")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(DecryptionError):
        decrypt(derived_token)
    # moving from the derived key to configured keys: list it last until values are re-encrypted
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, derived_key()]
    assert decrypt(derived_token) == "x"


def test_a_malformed_key_is_a_configuration_error(settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, "too short"]
    with pytest.raises(ImproperlyConfigured, match=r"FIELD_ENCRYPTION_KEYS\[1\]"):
        encrypt("x")


def test_encrypt_takes_text_only():
    with pytest.raises(TypeError):
        encrypt(b"bytes")  # type: ignore[arg-type]


# --- blind index ---------------------------------------------------------------------------------


def test_blind_index_is_stable_and_normalises_phone_formats():
    expected = blind_index("13812341234", "phone")
    assert len(expected) == 64 and int(expected, 16) >= 0
    for spelling in [
        "138 1234 1234",
        "138-1234-1234",
        "+86 138 1234 1234",
        "+86-13812341234",
        "008613812341234",
        "8613812341234",
        "１３８１２３４１２３４",
    ]:
        assert blind_index(spelling, "phone") == expected, spelling
    assert blind_index("13812341235", "phone") != expected
    assert "13812341234" not in expected


def test_blind_index_is_keyed_and_separated_by_purpose(settings):
    phone = blind_index("13812341234", "phone")
    assert blind_index("13812341234", "id_number") != phone
    assert blind_index("13812341234", "name") != phone
    settings.FIELD_BLIND_INDEX_KEY = "a different index key"
    assert blind_index("13812341234", "phone") != phone


def test_blind_index_does_not_follow_the_encryption_keys(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    before = blind_index("13812341234", "phone")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert blind_index("13812341234", "phone") == before


def test_blind_index_of_other_purposes():
    assert blind_index("11010519491231002x", "id_number") == blind_index("110105 19491231 002X", "id_number")
    assert blind_index("  Zhang   SAN ", "name") == blind_index("zhang san", "name")
    assert blind_index("", "phone") == blind_index(None, "phone") == blind_index(" - ", "phone") == ""
    with pytest.raises(ValueError):
        blind_index("x", "")


# --- the model field -----------------------------------------------------------------------------


def test_field_converts_between_plain_text_and_tokens():
    field = EncryptedTextField()
    token = field.get_prep_value("13812341234")
    assert token != "13812341234" and "13812341234" not in token
    assert field.from_db_value(token, None, connection) == "13812341234"
    for empty in (None, ""):
        assert field.get_prep_value(empty) == empty
        assert field.from_db_value(empty, None, connection) == empty
    assert field.to_python("张三") == "张三"
    assert field.to_python(None) is None
    assert field.to_python(12) == "12"


def test_field_deconstructs_for_migrations():
    field = EncryptedTextField(blank=True, null=True, verbose_name="phone")
    name, path, args, kwargs = field.deconstruct()
    assert path == "fengqiao.core.fields.EncryptedTextField"
    assert kwargs == {"blank": True, "null": True, "verbose_name": "phone"}
    rebuilt = EncryptedTextField(*args, **kwargs)
    assert rebuilt.deconstruct()[1:] == (path, args, kwargs)
    code, imports = MigrationWriter.serialize(field)
    assert code.startswith("fengqiao.core.fields.EncryptedTextField(")
    assert "import fengqiao.core.fields" in imports


@isolate_apps("fengqiao.core")
def test_field_refuses_unique_and_index():
    class Bad(models.Model):
        phone = EncryptedTextField(unique=True)
        name = EncryptedTextField(db_index=True)
        note = EncryptedTextField(blank=True)

        class Meta:
            app_label = "core"

        def __str__(self):
            return str(self.pk)

    assert [e.id for e in Bad._meta.get_field("phone").check()] == ["fengqiao.E001"]
    assert [e.id for e in Bad._meta.get_field("name").check()] == ["fengqiao.E001"]
    assert Bad._meta.get_field("note").check() == []


@pytest.fixture
def resident_class():
    """A throw-away model, registered in an isolated app registry."""
    with isolate_apps("fengqiao.core"):

        class Resident(models.Model):
            phone = EncryptedTextField(blank=True)
            phone_index = models.CharField(max_length=64, blank=True, db_index=True)
            name = EncryptedTextField(null=True)

            class Meta:
                app_label = "core"
                db_table = "test_crypto_resident"

            def __str__(self):
                return str(self.pk)

        yield Resident


@pytest.fixture
def resident_model(resident_class, transactional_db, django_db_serialized_rollback):
    """The model with a table of its own (schema changes need a non-atomic test on SQLite)."""
    with connection.schema_editor() as editor:
        editor.create_model(resident_class)
    try:
        yield resident_class
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(resident_class)


def test_the_database_holds_tokens_only(resident_model):
    Resident = resident_model
    row = Resident.objects.create(
        phone="13812341234", phone_index=blind_index("13812341234", "phone"), name="张三丰"
    )
    blank = Resident.objects.create(phone="", name=None)

    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, name FROM test_crypto_resident WHERE id = %s", [row.pk])
        raw_phone, raw_name = cursor.fetchone()
        cursor.execute("SELECT phone, name FROM test_crypto_resident WHERE id = %s", [blank.pk])
        assert cursor.fetchone() == ("", None)
    assert "1234" not in raw_phone and "张" not in raw_name
    assert decrypt(raw_phone) == "13812341234"

    fresh = Resident.objects.get(pk=row.pk)
    assert (fresh.phone, fresh.name) == ("13812341234", "张三丰")
    assert list(Resident.objects.filter(pk=row.pk).values_list("phone", "name")) == [
        ("13812341234", "张三丰")
    ]

    # exact look-up through the blind index, whatever the spelling
    found = Resident.objects.filter(phone_index=blind_index("+86 138-1234-1234", "phone"))
    assert list(found) == [row]
    assert list(Resident.objects.filter(name__isnull=True)) == [blank]

    Resident.objects.filter(pk=row.pk).update(name="李四")
    Resident.objects.bulk_create([Resident(phone="13900001111")])
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM test_crypto_resident WHERE id = %s", [row.pk])
        assert "李" not in cursor.fetchone()[0]
        cursor.execute("SELECT phone FROM test_crypto_resident")
        assert all("139" not in value and "138" not in value for (value,) in cursor.fetchall())
    assert sorted(Resident.objects.values_list("phone", flat=True)) == ["", "13812341234", "13900001111"]


@pytest.mark.parametrize(
    "lookup",
    [
        "phone",
        "phone__exact",
        "phone__iexact",
        "phone__contains",
        "phone__icontains",
        "phone__startswith",
        "phone__in",
        "phone__lower",
    ],
)
def test_lookups_on_ciphertext_are_refused(resident_class, lookup):
    value = ["13812341234"] if lookup.endswith("__in") else "13812341234"
    with pytest.raises(FieldError, match="blind_index"):
        resident_class.objects.filter(**{lookup: value})


def test_isnull_is_the_one_lookup_allowed(resident_class):
    assert "IS NULL" in str(resident_class.objects.filter(name__isnull=True).query)


# --- masking -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13812341234", "138****1234"),
        ("138 1234 1234", "138****1234"),
        ("138-1234-1234", "138****1234"),
        ("+86 138 1234 1234", "138****1234"),
        ("+86-13812341234", "138****1234"),
        ("008613812341234", "138****1234"),
        ("8613812341234", "138****1234"),
        ("021-12345678", "021****5678"),
        ("0571 8888 6666", "057*****6666"),
        ("88886666", "****6666"),
        ("+852 9123 4567", "+852****4567"),
        ("12345", "***45"),
        ("110", "***"),
        ("", ""),
        (None, ""),
        ("unknown", ""),
    ],
)
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


def test_normalise_phone():
    assert normalise_phone("+86 (138) 1234-1234") == "13812341234"
    assert normalise_phone("00852 9123 4567") == "+85291234567"
    assert normalise_phone("") == ""


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("张三丰", "张**"),
        ("张三", "张*"),
        ("张", "*"),
        ("欧阳修", "欧**"),
        (" 李 四 ", "李*"),
        ("买买提·艾力", "买*****"),
        ("John Smith", "J********"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_name(raw, masked):
    assert mask_name(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("11010519491231002X", "110***********002X"),
        ("11010519491231002x", "110***********002X"),
        ("110105 19491231 002X", "110***********002X"),
        ("110105491231002", "110********1002"),
        ("E12345678", "*****5678"),
        ("123456", "******"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_id_number(raw, masked):
    assert mask_id_number(raw) == masked
    assert normalise_id_number("110105 19491231 002x") == "11010519491231002X"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("浙江省杭州市西湖区留下街道东岳村3组15号", "浙江省杭州市西湖区留下街道东岳村****"),
        ("浙江省杭州市西湖区留下街道东岳村三组十五号", "浙江省杭州市西湖区留下街道东岳村****"),
        ("北京市朝阳区建国路88号院2号楼1201", "北京市朝阳区建国路****"),
        ("北京市朝阳区建国路８８号", "北京市朝阳区建国路****"),
        ("西湖区留下街道留下社区杨家牌楼小区5幢2单元301", "西湖区留下街道留下社区****"),
        ("上海市徐汇区漕溪北路595弄3号", "上海市徐汇区漕溪北路****"),
        ("东岳村张家", "东岳村****"),
        ("东岳村", "东岳村"),
        ("阳光花园3栋", "****"),
        ("12 Baker Street", "****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_address(raw, masked):
    assert mask_address(raw) == masked


def test_masks_never_show_the_full_value():
    assert "13812341234" not in mask_phone("13812341234")
    assert "19491231" not in mask_id_number("11010519491231002X")


def test_crypto_caches_follow_settings(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    first = crypto._fernet()
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    assert crypto._fernet() is not first
