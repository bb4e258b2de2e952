"""WeCom (企业微信) and DingTalk (钉钉) group-robot webhooks, both answering ``{"errcode", "errmsg"}``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import httpx

from hub.notify.errors import DeliveryFailed
from hub.notify.message import Message, http_failure, json_of, post
from hub.notify.signing import dingtalk_sign

# WeCom 45009 and DingTalk 130101 are "sending too fast"; -1 is a busy system on both.
RETRYABLE = {45009, 130101, -1}


def _check(resp: httpx.Response, what: str) -> None:
    if resp.status_code != 200:
        raise http_failure(resp, what)
    data = json_of(resp, what)
    code = int(data.get("errcode", -1))
    if code != 0:
        raise DeliveryFailed(f"{what}: {code}: {data.get('errmsg', '')}", retryable=code in RETRYABLE, code=str(code))


@dataclass
class WeComRobot:
    """Markdown message to a WeCom group robot (``/cgi-bin/webhook/send?key=``)."""

    key: str
    base_url: str = "https://qyapi.weixin.qq.com"
    kind: str = "wecom"

    async def send(self, client: httpx.AsyncClient, msg: Message, now_s: float) -> str:
        """Deliver once."""
        body = {"msgtype": "markdown", "markdown": {"content": f"**{msg.subject}**\n{msg.text}"}}
        resp = await post(client, "wecom", f"{self.base_url}/cgi-bin/webhook/send?key={quote(self.key)}", json=body)
        _check(resp, "wecom")
        return msg.id


@dataclass
class DingTalkRobot:
    """Markdown message to a DingTalk robot, signed when the robot has a secret ("加签")."""

    access_token: str
    secret: str = ""
    base_url: str = "https://oapi.dingtalk.com"
    kind: str = "dingtalk"

    async def send(self, client: httpx.AsyncClient, msg: Message, now_s: float) -> str:
        """Deliver once."""
        url = f"{self.base_url}/robot/send?access_token={quote(self.access_token)}"
        if self.secret:
            ts = int(now_s * 1000)
            url += f"&timestamp={ts}&sign={quote(dingtalk_sign(self.secret, ts), safe='')}"
        body = {"msgtype": "markdown", "markdown": {"title": msg.subject, "text": f"### {msg.subject}\n{msg.text}"}}
        resp = await post(client, "dingtalk", url, json=body)
        _check(resp, "dingtalk")
        return msg.id
