"""Asterisk 22's own tables, in our database and our migrations (DESIGN.md decision 1).

res_pjsip reads its endpoints, AORs, auths and IP identifications through sorcery realtime
(res_config_pgsql) and writes the contacts that phones register; cdr_pgsql writes one ``cdr`` row per
call leg. Column names, types, lengths and PostgreSQL enum types are those of Asterisk's own schema for
this version (the "config" and "cdr" histories of contrib/ast-db-manage in Asterisk's source), so both
modules run unchanged: sorcery realtime selects ``*`` and fills every field it knows, and cdr_pgsql
inserts into every column it has a value for. Two deliberate differences:

- ``id`` of the ps_* tables is their primary key where Asterisk declares it ``UNIQUE`` and ``NOT NULL``
  (the same guarantee; the ORM needs a key);
- ``cdr`` has a surrogate ``id`` primary key: cdr_pgsql leaves out a column that has a default when the
  call has no value of that name, so the database numbers the rows.

On the embedded SQLite default nothing reads these tables; there the enum columns are plain strings.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.kit.db import Base, IdType

# Asterisk's PostgreSQL enum types used by these tables, with their values in Asterisk's order.
ENUMS: dict[str, tuple[str, ...]] = {
    "ast_bool_values": ("0", "1", "off", "on", "false", "true", "no", "yes"),
    "pjsip_100rel_values_v2": ("no", "required", "peer_supported", "yes"),
    "pjsip_auth_type_values_v2": ("md5", "userpass", "google_oauth"),
    "pjsip_cid_privacy_values": (
        "allowed_not_screened",
        "allowed_passed_screened",
        "allowed_failed_screened",
        "allowed",
        "prohib_not_screened",
        "prohib_passed_screened",
        "prohib_failed_screened",
        "prohib",
        "unavailable",
    ),
    "pjsip_connected_line_method_values": ("invite", "reinvite", "update"),
    "pjsip_direct_media_glare_mitigation_values": ("none", "outgoing", "incoming"),
    "pjsip_dtls_setup_values": ("active", "passive", "actpass"),
    "pjsip_dtmf_mode_values_v3": ("rfc4733", "inband", "info", "auto", "auto_info"),
    "pjsip_incoming_call_offer_pref_values": ("local", "local_first", "remote", "remote_first"),
    "pjsip_media_encryption_values": ("no", "sdes", "dtls"),
    "pjsip_outgoing_call_offer_pref_values": (
        "local",
        "local_merge",
        "local_first",
        "remote",
        "remote_merge",
        "remote_first",
    ),
    "pjsip_redirect_method_values": ("user", "uri_core", "uri_pjsip"),
    "pjsip_t38udptl_ec_values": ("none", "fec", "redundancy"),
    "pjsip_timer_values": ("forced", "no", "required", "yes"),
    "security_negotiation_values": ("no", "mediasec"),
    "sha_hash_values": ("SHA-1", "SHA-256"),
}


def _enum(name: str) -> sa.Enum:
    # No CHECK constraint on SQLite: one enum serves many columns of a table, and the constraint's name
    # would repeat. On PostgreSQL the enum type itself restricts the values, as in Asterisk's schema.
    return sa.Enum(*ENUMS[name], name=name, create_constraint=False, validate_strings=True)


def _str(length: int) -> Mapped[str | None]:
    return mapped_column(sa.String(length))


def _int() -> Mapped[int | None]:
    return mapped_column(sa.Integer)


def _bool() -> Mapped[str | None]:
    """Asterisk's boolean option: one of ENUMS["ast_bool_values"]; we write "yes" or "no"."""
    return mapped_column(_enum("ast_bool_values"))


class NaiveUTCDateTime(TypeDecorator[datetime]):
    """A ``timestamp without time zone`` holding UTC, as cdr_pgsql writes it with ``timezone=UTC``
    (deploy/asterisk/cdr_pgsql.conf); read back as an aware UTC datetime."""

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class PjsipEndpoint(Base):
    """A SIP endpoint (a phone line's extension): its context, codecs, AOR and auth, as res_pjsip reads it."""

    __tablename__ = "ps_endpoints"

    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    transport: Mapped[str | None] = _str(40)
    aors: Mapped[str | None] = _str(2048)
    auth: Mapped[str | None] = _str(255)
    context: Mapped[str | None] = _str(40)
    disallow: Mapped[str | None] = _str(200)
    allow: Mapped[str | None] = _str(200)
    direct_media: Mapped[str | None] = _bool()
    connected_line_method: Mapped[str | None] = mapped_column(_enum("pjsip_connected_line_method_values"))
    direct_media_method: Mapped[str | None] = mapped_column(_enum("pjsip_connected_line_method_values"))
    direct_media_glare_mitigation: Mapped[str | None] = mapped_column(
        _enum("pjsip_direct_media_glare_mitigation_values")
    )
    disable_direct_media_on_nat: Mapped[str | None] = _bool()
    dtmf_mode: Mapped[str | None] = mapped_column(_enum("pjsip_dtmf_mode_values_v3"))
    external_media_address: Mapped[str | None] = _str(40)
    force_rport: Mapped[str | None] = _bool()
    ice_support: Mapped[str | None] = _bool()
    identify_by: Mapped[str | None] = _str(80)
    mailboxes: Mapped[str | None] = _str(40)
    moh_suggest: Mapped[str | None] = _str(40)
    outbound_auth: Mapped[str | None] = _str(255)
    outbound_proxy: Mapped[str | None] = _str(255)
    rewrite_contact: Mapped[str | None] = _bool()
    rtp_ipv6: Mapped[str | None] = _bool()
    rtp_symmetric: Mapped[str | None] = _bool()
    send_diversion: Mapped[str | None] = _bool()
    send_pai: Mapped[str | None] = _bool()
    send_rpid: Mapped[str | None] = _bool()
    timers_min_se: Mapped[int | None] = _int()
    timers: Mapped[str | None] = mapped_column(_enum("pjsip_timer_values"))
    timers_sess_expires: Mapped[int | None] = _int()
    callerid: Mapped[str | None] = _str(40)
    callerid_privacy: Mapped[str | None] = mapped_column(_enum("pjsip_cid_privacy_values"))
    callerid_tag: Mapped[str | None] = _str(40)
    rel_100: Mapped[str | None] = mapped_column("100rel", _enum("pjsip_100rel_values_v2"))
    aggregate_mwi: Mapped[str | None] = _bool()
    trust_id_inbound: Mapped[str | None] = _bool()
    trust_id_outbound: Mapped[str | None] = _bool()
    use_ptime: Mapped[str | None] = _bool()
    use_avpf: Mapped[str | None] = _bool()
    media_encryption: Mapped[str | None] = mapped_column(_enum("pjsip_media_encryption_values"))
    inband_progress: Mapped[str | None] = _bool()
    call_group: Mapped[str | None] = _str(40)
    pickup_group: Mapped[str | None] = _str(40)
    named_call_group: Mapped[str | None] = _str(40)
    named_pickup_group: Mapped[str | None] = _str(40)
    device_state_busy_at: Mapped[int | None] = _int()
    fax_detect: Mapped[str | None] = _bool()
    t38_udptl: Mapped[str | None] = _bool()
    t38_udptl_ec: Mapped[str | None] = mapped_column(_enum("pjsip_t38udptl_ec_values"))
    t38_udptl_maxdatagram: Mapped[int | None] = _int()
    t38_udptl_nat: Mapped[str | None] = _bool()
    t38_udptl_ipv6: Mapped[str | None] = _bool()
    tone_zone: Mapped[str | None] = _str(40)
    language: Mapped[str | None] = _str(40)
    one_touch_recording: Mapped[str | None] = _bool()
    record_on_feature: Mapped[str | None] = _str(40)
    record_off_feature: Mapped[str | None] = _str(40)
    rtp_engine: Mapped[str | None] = _str(40)
    allow_transfer: Mapped[str | None] = _bool()
    allow_subscribe: Mapped[str | None] = _bool()
    sdp_owner: Mapped[str | None] = _str(40)
    sdp_session: Mapped[str | None] = _str(40)
    tos_audio: Mapped[str | None] = _str(10)
    tos_video: Mapped[str | None] = _str(10)
    sub_min_expiry: Mapped[int | None] = _int()
    from_domain: Mapped[str | None] = _str(40)
    from_user: Mapped[str | None] = _str(40)
    mwi_from_user: Mapped[str | None] = _str(40)
    dtls_verify: Mapped[str | None] = _str(40)
    dtls_rekey: Mapped[str | None] = _str(40)
    dtls_cert_file: Mapped[str | None] = _str(200)
    dtls_private_key: Mapped[str | None] = _str(200)
    dtls_cipher: Mapped[str | None] = _str(200)
    dtls_ca_file: Mapped[str | None] = _str(200)
    dtls_ca_path: Mapped[str | None] = _str(200)
    dtls_setup: Mapped[str | None] = mapped_column(_enum("pjsip_dtls_setup_values"))
    srtp_tag_32: Mapped[str | None] = _bool()
    media_address: Mapped[str | None] = _str(40)
    redirect_method: Mapped[str | None] = mapped_column(_enum("pjsip_redirect_method_values"))
    set_var: Mapped[str | None] = mapped_column(sa.Text)
    cos_audio: Mapped[int | None] = _int()
    cos_video: Mapped[int | None] = _int()
    message_context: Mapped[str | None] = _str(40)
    force_avp: Mapped[str | None] = _bool()
    media_use_received_transport: Mapped[str | None] = _bool()
    accountcode: Mapped[str | None] = _str(80)
    user_eq_phone: Mapped[str | None] = _bool()
    moh_passthrough: Mapped[str | None] = _bool()
    media_encryption_optimistic: Mapped[str | None] = _bool()
    rpid_immediate: Mapped[str | None] = _bool()
    g726_non_standard: Mapped[str | None] = _bool()
    rtp_keepalive: Mapped[int | None] = _int()
    rtp_timeout: Mapped[int | None] = _int()
    rtp_timeout_hold: Mapped[int | None] = _int()
    bind_rtp_to_media_address: Mapped[str | None] = _bool()
    voicemail_extension: Mapped[str | None] = _str(40)
    mwi_subscribe_replaces_unsolicited: Mapped[str | None] = _bool()
    deny: Mapped[str | None] = _str(95)
    permit: Mapped[str | None] = _str(95)
    acl: Mapped[str | None] = _str(40)
    contact_deny: Mapped[str | None] = _str(95)
    contact_permit: Mapped[str | None] = _str(95)
    contact_acl: Mapped[str | None] = _str(40)
    subscribe_context: Mapped[str | None] = _str(40)
    fax_detect_timeout: Mapped[int | None] = _int()
    contact_user: Mapped[str | None] = _str(80)
    preferred_codec_only: Mapped[str | None] = _bool()
    asymmetric_rtp_codec: Mapped[str | None] = _bool()
    rtcp_mux: Mapped[str | None] = _bool()
    allow_overlap: Mapped[str | None] = _bool()
    refer_blind_progress: Mapped[str | None] = _bool()
    notify_early_inuse_ringing: Mapped[str | None] = _bool()
    max_audio_streams: Mapped[int | None] = _int()
    max_video_streams: Mapped[int | None] = _int()
    webrtc: Mapped[str | None] = _bool()
    dtls_fingerprint: Mapped[str | None] = mapped_column(_enum("sha_hash_values"))
    incoming_mwi_mailbox: Mapped[str | None] = _str(40)
    bundle: Mapped[str | None] = _bool()
    dtls_auto_generate_cert: Mapped[str | None] = _bool()
    follow_early_media_fork: Mapped[str | None] = _bool()
    accept_multiple_sdp_answers: Mapped[str | None] = _bool()
    suppress_q850_reason_headers: Mapped[str | None] = _bool()
    trust_connected_line: Mapped[str | None] = _bool()
    send_connected_line: Mapped[str | None] = _bool()
    ignore_183_without_sdp: Mapped[str | None] = _bool()
    codec_prefs_incoming_offer: Mapped[str | None] = _str(128)
    codec_prefs_outgoing_offer: Mapped[str | None] = _str(128)
    codec_prefs_incoming_answer: Mapped[str | None] = _str(128)
    codec_prefs_outgoing_answer: Mapped[str | None] = _str(128)
    stir_shaken: Mapped[str | None] = _bool()
    send_history_info: Mapped[str | None] = _bool()
    allow_unauthenticated_options: Mapped[str | None] = _bool()
    t38_bind_udptl_to_media_address: Mapped[str | None] = _bool()
    geoloc_incoming_call_profile: Mapped[str | None] = _str(80)
    geoloc_outgoing_call_profile: Mapped[str | None] = _str(80)
    incoming_call_offer_pref: Mapped[str | None] = mapped_column(_enum("pjsip_incoming_call_offer_pref_values"))
    outgoing_call_offer_pref: Mapped[str | None] = mapped_column(_enum("pjsip_outgoing_call_offer_pref_values"))
    stir_shaken_profile: Mapped[str | None] = _str(80)
    security_negotiation: Mapped[str | None] = mapped_column(_enum("security_negotiation_values"))
    security_mechanisms: Mapped[str | None] = _str(512)
    send_aoc: Mapped[str | None] = _bool()
    overlap_context: Mapped[str | None] = _str(80)
    tenantid: Mapped[str | None] = _str(80)
    suppress_moh_on_sendonly: Mapped[str | None] = _bool()
    follow_redirect_methods: Mapped[str | None] = _str(95)
    rtp_port_start: Mapped[int | None] = _int()
    rtp_port_end: Mapped[int | None] = _int()


class PjsipAuth(Base):
    """The credentials a phone authenticates as an endpoint with (``userpass``: username and password)."""

    __tablename__ = "ps_auths"

    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    auth_type: Mapped[str | None] = mapped_column(_enum("pjsip_auth_type_values_v2"))
    nonce_lifetime: Mapped[int | None] = _int()
    md5_cred: Mapped[str | None] = _str(40)
    password: Mapped[str | None] = _str(80)
    realm: Mapped[str | None] = _str(255)
    username: Mapped[str | None] = _str(40)
    refresh_token: Mapped[str | None] = _str(255)
    oauth_clientid: Mapped[str | None] = _str(255)
    oauth_secret: Mapped[str | None] = _str(255)
    password_digest: Mapped[str | None] = _str(1024)
    supported_algorithms_uas: Mapped[str | None] = _str(1024)
    supported_algorithms_uac: Mapped[str | None] = _str(1024)


class PjsipAor(Base):
    """An address of record: where calls to an endpoint go, and how many phones may register there."""

    __tablename__ = "ps_aors"

    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    contact: Mapped[str | None] = _str(255)
    default_expiration: Mapped[int | None] = _int()
    mailboxes: Mapped[str | None] = _str(80)
    max_contacts: Mapped[int | None] = _int()
    minimum_expiration: Mapped[int | None] = _int()
    remove_existing: Mapped[str | None] = _bool()
    qualify_frequency: Mapped[int | None] = _int()
    authenticate_qualify: Mapped[str | None] = _bool()
    maximum_expiration: Mapped[int | None] = _int()
    outbound_proxy: Mapped[str | None] = _str(255)
    support_path: Mapped[str | None] = _bool()
    qualify_timeout: Mapped[float | None] = mapped_column(sa.Double)
    voicemail_extension: Mapped[str | None] = _str(40)
    remove_unavailable: Mapped[str | None] = _bool()
    qualify_2xx_only: Mapped[str | None] = _bool()

    __table_args__ = (sa.Index("ps_aors_qualifyfreq_contact", "qualify_frequency", "contact"),)


class PjsipContact(Base):
    """A registered phone's contact on an AOR, written and expired by Asterisk (the registration state)."""

    __tablename__ = "ps_contacts"

    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    uri: Mapped[str | None] = _str(511)
    expiration_time: Mapped[int | None] = mapped_column(sa.BigInteger)
    qualify_frequency: Mapped[int | None] = _int()
    outbound_proxy: Mapped[str | None] = _str(255)
    path: Mapped[str | None] = mapped_column(sa.Text)
    user_agent: Mapped[str | None] = _str(255)
    qualify_timeout: Mapped[float | None] = mapped_column(sa.Double)
    reg_server: Mapped[str | None] = _str(255)
    authenticate_qualify: Mapped[str | None] = _bool()
    via_addr: Mapped[str | None] = _str(40)
    via_port: Mapped[int | None] = _int()
    call_id: Mapped[str | None] = _str(255)
    endpoint: Mapped[str | None] = _str(255)
    prune_on_boot: Mapped[str | None] = _bool()
    qualify_2xx_only: Mapped[str | None] = _bool()

    __table_args__ = (
        sa.UniqueConstraint("id", "reg_server", name="ps_contacts_uq"),
        sa.Index("ps_contacts_qualifyfreq_exp", "qualify_frequency", "expiration_time"),
    )


class PjsipEndpointIdentifyIp(Base):
    """Identifies an endpoint by source address or header (trunks, devices that do not register)."""

    __tablename__ = "ps_endpoint_id_ips"

    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    endpoint: Mapped[str | None] = _str(255)
    match: Mapped[str | None] = _str(80)
    srv_lookups: Mapped[str | None] = _bool()
    match_header: Mapped[str | None] = _str(255)
    match_request_uri: Mapped[str | None] = _str(255)


class CallDetailRecord(Base):
    """One call leg as Asterisk reports it (cdr_pgsql): who called whom, when, how long, and the outcome."""

    __tablename__ = "cdr"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    accountcode: Mapped[str | None] = _str(80)
    src: Mapped[str | None] = _str(80)
    dst: Mapped[str | None] = _str(80)
    dcontext: Mapped[str | None] = _str(80)
    clid: Mapped[str | None] = _str(80)
    channel: Mapped[str | None] = _str(80)
    dstchannel: Mapped[str | None] = _str(80)
    lastapp: Mapped[str | None] = _str(80)
    lastdata: Mapped[str | None] = _str(80)
    start: Mapped[datetime | None] = mapped_column(NaiveUTCDateTime())
    answer: Mapped[datetime | None] = mapped_column(NaiveUTCDateTime())
    end: Mapped[datetime | None] = mapped_column(NaiveUTCDateTime())
    duration: Mapped[int | None] = _int()
    billsec: Mapped[int | None] = _int()
    disposition: Mapped[str | None] = _str(45)
    amaflags: Mapped[str | None] = _str(45)
    userfield: Mapped[str | None] = _str(256)
    uniqueid: Mapped[str | None] = _str(150)
    linkedid: Mapped[str | None] = _str(150)
    peeraccount: Mapped[str | None] = _str(80)
    sequence: Mapped[int | None] = _int()
