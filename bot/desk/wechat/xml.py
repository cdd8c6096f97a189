"""Safe parsing of WeChat XML and building of replies.

Callbacks arrive from the internet: they are parsed with defusedxml, which
refuses any DOCTYPE (so entity bombs and external entities never expand).
Replies put text in CDATA; a "]]>" inside the text would end the section early,
so it is split across two sections, and characters XML 1.0 cannot carry at all
(control characters) are dropped.
"""

from __future__ import annotations

import re
import time
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_FIELDS = 64


class XmlError(ValueError):
    """The body is not a WeChat XML document we accept (HTTP 400)."""

    status = 400


def parse(body: bytes | str) -> dict[str, str]:
    """The child elements of <xml> as a flat {tag: text} dict.

    Nested elements (e.g. ScanCodeInfo) are flattened one level as "Parent.Child".
    """
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise XmlError(f"XML 无效或不安全：{type(exc).__name__}") from None
    if root.tag != "xml":
        raise XmlError("根元素应为 <xml>")
    out: dict[str, str] = {}
    if len(root) > MAX_FIELDS:
        raise XmlError("字段过多")
    for child in root:
        if len(child):
            for sub in child:
                out[f"{child.tag}.{sub.tag}"] = (sub.text or "").strip()
        else:
            out[child.tag] = child.text or ""
    return out


_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def cdata(text: str) -> str:
    """`text` as CDATA, correct even when it contains "]]>"."""
    clean = _INVALID_XML_CHARS.sub("", str(text))
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, from_user: str, content: str, create_time: int | None = None) -> str:
    """A passive text reply (both the Official Account and WeCom use this shape)."""
    return (
        "<xml>"
        f"<ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time if create_time is not None else time.time())}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content>"
        "</xml>"
    )


def encrypted_reply(encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> str:
    """The envelope of an encrypted passive reply."""
    return (
        "<xml>"
        f"<Encrypt>{cdata(encrypt)}</Encrypt>"
        f"<MsgSignature>{cdata(msg_signature)}</MsgSignature>"
        f"<TimeStamp>{int(timestamp)}</TimeStamp>"
        f"<Nonce>{cdata(nonce)}</Nonce>"
        "</xml>"
    )
