"""WeChat / WeCom callback signatures and message encryption ("safe mode").

Why our own code: the protocol is small and its failure modes matter (every
check below is a reason to refuse a request before it reaches Rasa). The scheme,
shared by the Official Account and WeCom:

- signature = sha1 of the sorted, concatenated strings (token, timestamp, nonce
  [, Encrypt]); compared in constant time.
- AESKey = base64(EncodingAESKey + "="), 32 bytes; AES-256-CBC, IV = AESKey[:16].
- plaintext = 16 random bytes + 4-byte big-endian length + message + receive id
  (the Official Account's appid or the WeCom corpid), PKCS#7-padded to a multiple
  of 32 bytes (not AES's 16 — WeChat's own choice).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeChat's PKCS#7 block size
AES_KEY_CHARS = 43  # length of an EncodingAESKey


class CryptoError(Exception):
    """A callback failed verification; `status` is the HTTP answer for it."""

    status = 400


class SignatureError(CryptoError):
    status = 403


class ReceiverError(CryptoError):
    """The ciphertext is genuine but addressed to another appid/corpid."""

    status = 403


class DecryptError(CryptoError):
    status = 400


def signature(*parts: str) -> str:
    """sha1 over the parts sorted as strings and concatenated (WeChat's rule)."""
    return hashlib.sha1("".join(sorted(str(p) for p in parts)).encode("utf-8")).hexdigest()


def signature_ok(given: str | None, *parts: str) -> bool:
    """Constant-time comparison of a received signature with the expected one."""
    if not given:
        return False
    expected = signature(*parts)
    return hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("utf-8", "replace"))


def pkcs7_pad(data: bytes, block: int = BLOCK) -> bytes:
    n = block - len(data) % block  # 1..block: a full block when already aligned
    return data + bytes([n]) * n


def pkcs7_unpad(data: bytes, block: int = BLOCK) -> bytes:
    """Strict: the length is a multiple of `block`, the pad is 1..block equal bytes."""
    if not data or len(data) % block:
        raise DecryptError("密文长度不是 32 字节的整数倍")
    n = data[-1]
    if not 1 <= n <= block or data[-n:] != bytes([n]) * n:
        raise DecryptError("PKCS#7 填充无效")
    return data[:-n]


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey (ValueError if malformed)."""
    k = (encoding_aes_key or "").strip()
    if len(k) != AES_KEY_CHARS or not k.isascii() or not k.isalnum():
        raise ValueError("EncodingAESKey 应为 43 位字母或数字")
    try:
        key = base64.b64decode(k + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError(f"EncodingAESKey 无法解码：{exc}") from None
    if len(key) != 32:
        raise ValueError("EncodingAESKey 解码后不是 32 字节")
    return key


class MsgCrypto:
    """Sign, encrypt and decrypt for one account (token, EncodingAESKey, receive id)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if not token:
            raise ValueError("Token 不能为空")
        if not receive_id:
            raise ValueError("AppID / CorpID 不能为空")
        self.token = token
        self.key = aes_key(encoding_aes_key)
        self.receive_id = receive_id

    # -- signatures --------------------------------------------------------------------------
    def sign(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return signature(self.token, timestamp, nonce, encrypt)

    def verify(self, msg_signature: str | None, timestamp: str, nonce: str, encrypt: str) -> None:
        if not signature_ok(msg_signature, self.token, timestamp, nonce, encrypt):
            raise SignatureError("消息签名不正确")

    # -- AES ---------------------------------------------------------------------------------
    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: str | bytes, random16: bytes | None = None) -> str:
        """Base64 ciphertext of `message` for our receive id (fresh random prefix)."""
        body = message.encode("utf-8") if isinstance(message, str) else message
        prefix = random16 if random16 is not None else os.urandom(16)
        if len(prefix) != 16:
            raise ValueError("random prefix must be 16 bytes")
        plain = pkcs7_pad(prefix + struct.pack(">I", len(body)) + body + self.receive_id.encode("utf-8"))
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(plain) + enc.finalize()).decode("ascii")

    def decrypt(self, encrypt: str) -> bytes:
        """The message inside `encrypt`; DecryptError / ReceiverError when it is not ours."""
        try:
            raw = base64.b64decode((encrypt or "").strip(), validate=True)
        except (binascii.Error, ValueError):
            raise DecryptError("密文不是有效的 Base64") from None
        if not raw or len(raw) % BLOCK:
            raise DecryptError("密文长度不是 32 字节的整数倍")
        dec = self._cipher().decryptor()
        plain = pkcs7_unpad(dec.update(raw) + dec.finalize())
        if len(plain) < 20:
            raise DecryptError("明文过短")
        (length,) = struct.unpack(">I", plain[16:20])
        if length > len(plain) - 20:
            raise DecryptError("消息长度字段无效")
        message, receiver = plain[20 : 20 + length], plain[20 + length :]
        if not hmac.compare_digest(receiver, self.receive_id.encode("utf-8")):
            raise ReceiverError("AppID / CorpID 与配置不符")
        return message

    # -- the two round trips -----------------------------------------------------------------
    def open(self, msg_signature: str | None, timestamp: str, nonce: str, encrypt: str) -> bytes:
        """Verify the signature, then decrypt (a WeCom echostr or an <Encrypt> element)."""
        self.verify(msg_signature, timestamp, nonce, encrypt)
        return self.decrypt(encrypt)

    def seal(self, message: str, timestamp: str, nonce: str) -> tuple[str, str]:
        """(Encrypt, MsgSignature) for a passive reply."""
        encrypt = self.encrypt(message)
        return encrypt, self.sign(timestamp, nonce, encrypt)
