"""u32 hash tables and the classifiers in them, on a shaper's HTB root ``1:``: built and read like
``tc.py``. What goes where is in ``shapers.py``."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from network.router.netlink import CREATE, F_REQUEST, RTM_DELTFILTER, RTM_NEWTFILTER, Request, as_u32, attr, text, u32
from network.router.tc import (
    TC_U32_TERMINAL,
    TCA_KIND,
    TCA_OPTIONS,
    TCA_U32_CLASSID,
    TCA_U32_DIVISOR,
    TCA_U32_HASH,
    TCA_U32_LINK,
    TCA_U32_SEL,
    Tc,
    filter_info,
    handle,
    tcmsg,
)

_U32_SEL = struct.Struct("=BBBxHHhhI")  # hmask (the last field) is in network byte order
_U32_KEY = struct.Struct("=IIii")  # mask and value are in network byte order


@dataclass(frozen=True, slots=True)
class Key:
    """One u32 match: the 32-bit word at ``offset`` (from the network header), masked, equals ``value``."""

    mask: int
    value: int
    offset: int


def _selector(keys: Sequence[Key], *, terminal: bool, hash_offset: int = 0, hash_mask: int = 0) -> bytes:
    head = struct.pack("=BBBxHHhh", TC_U32_TERMINAL if terminal else 0, 0, len(keys), 0, 0, 0, hash_offset)
    body = b"".join(struct.pack("!II", key.mask, key.value) + struct.pack("=ii", key.offset, 0) for key in keys)
    return head + struct.pack("!I", hash_mask) + body


def u32_table(index: int, htid: int, *, prio: int, protocol: int) -> Request:
    """A u32 hash table ``htid:`` of 256 buckets on the device's root qdisc ``1:``.

    The tables of a qdisc belong to all its u32 filters together: deleting the filters of one priority
    leaves their tables behind, unseen until filters of that priority are made again, and taken up again
    by them. So "it exists" is success here."""
    body = tcmsg(index, htid << 20, handle(1, 0), filter_info(prio, protocol)) + text(TCA_KIND, "u32")
    body += attr(TCA_OPTIONS, u32(TCA_U32_DIVISOR, 256))
    return Request(RTM_NEWTFILTER, CREATE, body, f"add u32 table {htid:x}:", exists_ok=True)


def u32_link(index: int, htid: int, *, prio: int, protocol: int, hash_offset: int, hash_mask: int) -> Request:
    """A filter in the root table that sends every packet of ``protocol`` to table ``htid:``, to the bucket
    picked by the bits ``hash_mask`` of the word at ``hash_offset``."""
    selector = _selector([Key(0, 0, 0)], terminal=False, hash_offset=hash_offset, hash_mask=hash_mask)
    options = attr(TCA_U32_SEL, selector) + u32(TCA_U32_LINK, htid << 20)
    body = tcmsg(index, 0, handle(1, 0), filter_info(prio, protocol)) + text(TCA_KIND, "u32")
    return Request(RTM_NEWTFILTER, CREATE, body + attr(TCA_OPTIONS, options), f"add u32 link to {htid:x}:")


def u32_classifier(index: int, handle_: int, *, prio: int, protocol: int, keys: Sequence[Key], minor: int) -> Request:
    """A u32 filter ``handle_`` (table, bucket and node) that sends packets matching ``keys`` to class
    ``1:<minor>``."""
    options = (
        u32(TCA_U32_HASH, handle_ & 0xFFFFF000)
        + attr(TCA_U32_SEL, _selector(keys, terminal=True))
        + u32(TCA_U32_CLASSID, handle(1, minor))
    )
    body = tcmsg(index, handle_, handle(1, 0), filter_info(prio, protocol)) + text(TCA_KIND, "u32")
    return Request(RTM_NEWTFILTER, CREATE, body + attr(TCA_OPTIONS, options), f"add classifier to 1:{minor:x}")


def del_u32(index: int, handle_: int, *, prio: int, protocol: int) -> Request:
    body = tcmsg(index, handle_, handle(1, 0), filter_info(prio, protocol)) + text(TCA_KIND, "u32")
    return Request(RTM_DELTFILTER, F_REQUEST, body, f"remove u32 filter {handle_:x}")


@dataclass(frozen=True, slots=True)
class U32:
    """A u32 filter as dumped: a hash table (``divisor``), a link to one, or a classifier (``classid``)."""

    handle: int
    prio: int
    protocol: int
    divisor: int | None
    link: int | None  # the htid linked to
    classid: int | None
    keys: tuple[Key, ...]
    hash_offset: int
    hash_mask: int


def parse_u32(item: Tc) -> U32 | None:
    if item.kind != "u32":
        return None
    divisor = as_u32(item.options[TCA_U32_DIVISOR]) if TCA_U32_DIVISOR in item.options else None
    link = as_u32(item.options[TCA_U32_LINK]) >> 20 if TCA_U32_LINK in item.options else None
    classid = as_u32(item.options[TCA_U32_CLASSID]) if TCA_U32_CLASSID in item.options else None
    keys: list[Key] = []
    hash_offset = hash_mask = 0
    selector = item.options.get(TCA_U32_SEL)
    if selector is not None and len(selector) >= _U32_SEL.size:
        count, hash_offset = selector[2], struct.unpack_from("=h", selector, 10)[0]
        hash_mask = struct.unpack_from("!I", selector, 12)[0]
        for n in range(count):
            start = _U32_SEL.size + n * _U32_KEY.size
            if start + _U32_KEY.size > len(selector):
                break
            mask, value = struct.unpack_from("!II", selector, start)
            keys.append(Key(mask, value, struct.unpack_from("=i", selector, start + 8)[0]))
    protocol = struct.unpack("!H", struct.pack("=H", item.info & 0xFFFF))[0]
    return U32(item.handle, item.prio, protocol, divisor, link, classid, tuple(keys), hash_offset, hash_mask)
