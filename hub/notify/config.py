"""Channel settings (one entry per provider account or webhook) and :func:`build_provider`.

Secrets are ``SecretStr`` so they never show in logs, errors or the API.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr

from citysense.profiles.model import Strict
from hub.notify.message import Provider
from hub.notify.providers.aliyun import AliyunSms
from hub.notify.providers.gateway import HttpSmsGateway
from hub.notify.providers.robots import DingTalkRobot, WeComRobot
from hub.notify.providers.tencent import TencentSms
from hub.notify.providers.twilio import TwilioSms
from hub.notify.providers.webhook import WebhookProvider


class WebhookChannel(Strict):
    """A generic webhook signed per Standard Webhooks."""

    type: Literal["webhook"]
    url: str
    secret: SecretStr


class AliyunChannel(Strict):
    """Aliyun SMS: a signature name and an approved template with ${device} ${rule} ${level} ${value} ${state}."""

    type: Literal["aliyun_sms"]
    access_key_id: str
    access_key_secret: SecretStr
    sign_name: str
    template_code: str
    endpoint: str = "https://dysmsapi.aliyuncs.com/"


class TencentChannel(Strict):
    """Tencent Cloud SMS: template parameters are positional, listed in ``param_order``."""

    type: Literal["tencent_sms"]
    secret_id: str
    secret_key: SecretStr
    sdk_app_id: str
    sign_name: str
    template_id: str
    param_order: list[str] = Field(default_factory=lambda: ["device", "rule", "level", "value"])
    endpoint: str = "https://sms.tencentcloudapi.com/"
    host: str = "sms.tencentcloudapi.com"
    region: str = "ap-guangzhou"


class TwilioChannel(Strict):
    """Twilio Messages API; ``status_callback`` receives delivery receipts."""

    type: Literal["twilio"]
    account_sid: str
    auth_token: SecretStr
    from_number: str
    status_callback: str = ""
    base_url: str = "https://api.twilio.com"


class GatewayChannel(Strict):
    """A plain JSON HTTP SMS gateway."""

    type: Literal["http_sms"]
    url: str
    token: SecretStr | None = None


class WeComChannel(Strict):
    """A WeCom group robot (its webhook key)."""

    type: Literal["wecom"]
    key: SecretStr
    base_url: str = "https://qyapi.weixin.qq.com"


class DingTalkChannel(Strict):
    """A DingTalk group robot (access token, and the secret when signing is on)."""

    type: Literal["dingtalk"]
    access_token: SecretStr
    secret: SecretStr | None = None
    base_url: str = "https://oapi.dingtalk.com"


Channel = Annotated[
    WebhookChannel | AliyunChannel | TencentChannel | TwilioChannel | GatewayChannel | WeComChannel | DingTalkChannel,
    Field(discriminator="type"),
]
SMS_TYPES = frozenset({"aliyun_sms", "tencent_sms", "twilio", "http_sms"})


def build_provider(ch: Channel) -> Provider:
    """Return the adapter for one channel's settings."""
    match ch:
        case WebhookChannel():
            return WebhookProvider(ch.url, ch.secret.get_secret_value())
        case AliyunChannel():
            return AliyunSms(
                ch.access_key_id, ch.access_key_secret.get_secret_value(), ch.sign_name, ch.template_code, ch.endpoint
            )
        case TencentChannel():
            return TencentSms(
                ch.secret_id,
                ch.secret_key.get_secret_value(),
                ch.sdk_app_id,
                ch.sign_name,
                ch.template_id,
                list(ch.param_order),
                ch.endpoint,
                ch.host,
                ch.region,
            )
        case TwilioChannel():
            return TwilioSms(
                ch.account_sid, ch.auth_token.get_secret_value(), ch.from_number, ch.status_callback, ch.base_url
            )
        case GatewayChannel():
            return HttpSmsGateway(ch.url, ch.token.get_secret_value() if ch.token else "")
        case WeComChannel():
            return WeComRobot(ch.key.get_secret_value(), ch.base_url)
        case DingTalkChannel():
            return DingTalkRobot(
                ch.access_token.get_secret_value(), ch.secret.get_secret_value() if ch.secret else "", ch.base_url
            )
    raise AssertionError(ch)
