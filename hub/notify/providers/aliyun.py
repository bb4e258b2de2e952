"""Aliyun SMS (Dysmsapi 2017-05-25, ``SendSms``) over the RPC API with signature v1."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import httpx

from hub.notify.errors import DeliveryFailed
from hub.notify.message import Message, http_failure, json_of, post
from hub.notify.signing import aliyun_signature

# Codes that mean "later may work" (flow control); everything else is the request's own fault.
RETRYABLE = {"isv.BUSINESS_LIMIT_CONTROL", "Throttling.User", "ServiceUnavailable", "InternalError"}


@dataclass
class AliyunSms:
    """Send a registered template with parameters to one phone number."""

    access_key_id: str
    access_key_secret: str
    sign_name: str
    template_code: str
    endpoint: str = "https://dysmsapi.aliyuncs.com/"
    region_id: str = "cn-hangzhou"
    kind: str = "aliyun_sms"

    def params(self, msg: Message, now_s: float, nonce: str) -> dict[str, str]:
        """Return the signed form parameters of one SendSms call."""
        p = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": msg.id,
            "PhoneNumbers": msg.recipient,
            "RegionId": self.region_id,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce,
            "SignatureVersion": "1.0",
            "TemplateCode": self.template_code,
            "TemplateParam": json.dumps(msg.params, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_s)),
            "Version": "2017-05-25",
        }
        p["Signature"] = aliyun_signature(p, self.access_key_secret, "POST")
        return p

    async def send(self, client: httpx.AsyncClient, msg: Message, now_s: float) -> str:
        """Deliver once; returns the ``BizId`` used to query the receipt."""
        resp = await post(client, "aliyun", self.endpoint, data=self.params(msg, now_s, uuid.uuid4().hex))
        data = json_of(resp, "aliyun") if resp.headers.get("content-type", "").startswith("application/json") else {}
        code = str(data.get("Code", ""))
        if resp.status_code == 200 and code == "OK":
            return str(data.get("BizId", ""))
        if not data:
            raise http_failure(resp, "aliyun")
        retry = code in RETRYABLE or resp.status_code >= 500
        raise DeliveryFailed(f"aliyun: {code}: {data.get('Message', '')}", retryable=retry, code=code)
