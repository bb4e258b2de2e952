"""Tencent Cloud SMS (``SendSms``, API version 2021-01-11) signed with TC3-HMAC-SHA256."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from hub.notify.errors import DeliveryFailed
from hub.notify.message import Message, http_failure, json_of, post
from hub.notify.signing import tc3_authorization

RETRYABLE_PREFIXES = ("LimitExceeded", "InternalError", "RequestLimitExceeded")


@dataclass
class TencentSms:
    """Send a registered template (parameters in order) to one phone number."""

    secret_id: str
    secret_key: str
    sdk_app_id: str
    sign_name: str
    template_id: str
    param_order: list[str] = field(default_factory=list)
    endpoint: str = "https://sms.tencentcloudapi.com/"
    host: str = "sms.tencentcloudapi.com"
    region: str = "ap-guangzhou"
    kind: str = "tencent_sms"

    async def send(self, client: httpx.AsyncClient, msg: Message, now_s: float) -> str:
        """Deliver once; returns the ``SerialNo`` used by delivery receipts."""
        phone = msg.recipient if msg.recipient.startswith("+") else "+86" + msg.recipient
        body = json.dumps(
            {
                "PhoneNumberSet": [phone],
                "SmsSdkAppId": self.sdk_app_id,
                "SignName": self.sign_name,
                "TemplateId": self.template_id,
                "TemplateParamSet": [msg.params.get(k, "") for k in self.param_order],
                "SessionContext": msg.id,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        ts = int(now_s)
        # The Host header is signed: it must be the name the request is addressed to.
        host = self.host or (urlsplit(self.endpoint).netloc)
        headers = {
            "Authorization": tc3_authorization(
                secret_id=self.secret_id,
                secret_key=self.secret_key,
                service="sms",
                host=host,
                action="SendSms",
                payload=body,
                timestamp_s=ts,
            ),
            "Content-Type": "application/json; charset=utf-8",
            "Host": host,
            "X-TC-Action": "SendSms",
            "X-TC-Timestamp": str(ts),
            "X-TC-Version": "2021-01-11",
            "X-TC-Region": self.region,
        }
        resp = await post(client, "tencent", self.endpoint, content=body, headers=headers)
        if resp.status_code != 200:
            raise http_failure(resp, "tencent")
        data = json_of(resp, "tencent").get("Response", {})
        if "Error" in data:
            code = str(data["Error"].get("Code", ""))
            retry = code.startswith(RETRYABLE_PREFIXES)
            raise DeliveryFailed(f"tencent: {code}: {data['Error'].get('Message', '')}", retryable=retry, code=code)
        status = (data.get("SendStatusSet") or [{}])[0]
        code = str(status.get("Code", ""))
        if code != "Ok":
            retry = code.startswith(RETRYABLE_PREFIXES)
            raise DeliveryFailed(f"tencent: {code}: {status.get('Message', '')}", retryable=retry, code=code)
        return str(status.get("SerialNo", ""))
