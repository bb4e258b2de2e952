"""Each provider adapter against a local server that checks the provider's request format and signature.

The checks re-derive each signature from the provider's documentation, written
independently of hub.notify.signing, so a mistake there shows up here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs, quote_plus, urlsplit

import httpx
import pytest

from hub.notify.errors import DeliveryFailed
from hub.notify.message import Message
from hub.notify.providers.aliyun import AliyunSms
from hub.notify.providers.gateway import HttpSmsGateway
from hub.notify.providers.robots import DingTalkRobot, WeComRobot
from hub.notify.providers.tencent import TencentSms
from hub.notify.providers.twilio import TwilioSms
from hub.notify.providers.webhook import WebhookProvider
from tests.alerts.httpfake import Reply, Seen, fake_provider

MSG = Message(
    id="msg_01",
    recipient="13800138000",
    subject="水位告警 Water level warning",
    text="GZ-W-0001 水位 3.62 m ≥ 3.50 m",
    params={"device": "GZ-W-0001", "value": "3.62"},
    event={"type": "alarm.raised", "alarm": {"id": 1}},
)
NOW = 1_764_300_000.0


def js(status: int, obj: object) -> Reply:
    return status, "application/json", json.dumps(obj).encode()


async def send(provider: object, msg: Message = MSG) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        return await provider.send(client, msg, NOW)  # type: ignore[attr-defined, no-any-return]


# --- Standard Webhooks ---------------------------------------------------------------------------
SECRET = "whsec_" + base64.b64encode(b"a-32-byte-secret-for-the-tests!!").decode()


def check_standard_webhook(req: Seen) -> Reply:
    key = base64.b64decode(SECRET.split("_", 1)[1])
    signed = f"{req.headers['webhook-id']}.{req.headers['webhook-timestamp']}.".encode() + req.body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    sigs = [s.split(",", 1)[1] for s in req.headers["webhook-signature"].split(" ") if s.startswith("v1,")]
    if want not in sigs:
        return 401, "text/plain", b"bad signature"
    return 204, "text/plain", b""


async def test_webhook_is_signed_per_standard_webhooks() -> None:
    with fake_provider(check_standard_webhook) as srv:
        assert await send(WebhookProvider(srv.url + "/hook", SECRET)) == "msg_01"
    (req,) = srv.seen
    assert req.headers["webhook-id"] == "msg_01" and req.headers["webhook-timestamp"] == str(int(NOW))
    assert json.loads(req.body) == MSG.event


async def test_webhook_wrong_secret_is_not_retried_but_server_errors_are() -> None:
    with fake_provider(check_standard_webhook) as srv, pytest.raises(DeliveryFailed) as bad:
        await send(WebhookProvider(srv.url, "whsec_" + base64.b64encode(b"other").decode()))
    assert not bad.value.retryable and bad.value.code == "401"
    with fake_provider(lambda req: (503, "text/plain", b"busy")) as srv, pytest.raises(DeliveryFailed) as busy:
        await send(WebhookProvider(srv.url, SECRET))
    assert busy.value.retryable


# --- Aliyun SMS ----------------------------------------------------------------------------------
def aliyun_check(secret: str) -> object:
    def reply(req: Seen) -> Reply:
        form = {k: v[0] for k, v in parse_qs(req.body.decode(), keep_blank_values=True).items()}
        sig = form.pop("Signature")

        def enc(s: str) -> str:  # the documented recipe: form-encode, then fix +, * and ~
            return quote_plus(s, safe="").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")

        query = "&".join(f"{enc(k)}={enc(form[k])}" for k in sorted(form))
        to_sign = "POST&%2F&" + enc(query)
        want = base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
        if sig != want:
            return js(400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched"})
        if form["Action"] != "SendSms" or form["Version"] != "2017-05-25" or form["SignatureMethod"] != "HMAC-SHA1":
            return js(400, {"Code": "InvalidParameter", "Message": "bad common parameters"})
        if not form["PhoneNumbers"].isdigit():
            return js(200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "invalid number"})
        if json.loads(form["TemplateParam"]) != MSG.params:
            return js(200, {"Code": "isv.TEMPLATE_MISSING_PARAMETERS", "Message": "missing"})
        return js(200, {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "r1"})

    return reply


async def test_aliyun_sendsms_signature_v1() -> None:
    with fake_provider(aliyun_check("s3cr3t*~ ")) as srv:  # type: ignore[arg-type]
        sms = AliyunSms("LTAIid", "s3cr3t*~ ", "高州市水务局", "SMS_1234", endpoint=srv.url + "/")
        assert await send(sms) == "900619746936498440^0"
        with pytest.raises(DeliveryFailed) as bad:
            await send(sms, Message(id="m2", recipient="+86 138", subject="", text=""))
        wrong = AliyunSms("LTAIid", "wrong", "高州市水务局", "SMS_1234", endpoint=srv.url + "/")
        with pytest.raises(DeliveryFailed) as unsigned:
            await send(wrong)
    form = parse_qs(srv.seen[0].body.decode())
    assert form["OutId"] == ["msg_01"] and form["SignName"] == ["高州市水务局"]
    assert bad.value.code == "isv.MOBILE_NUMBER_ILLEGAL" and not bad.value.retryable
    assert unsigned.value.code == "SignatureDoesNotMatch" and not unsigned.value.retryable


async def test_aliyun_flow_control_is_retryable() -> None:
    with (
        fake_provider(lambda r: js(200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控"})) as srv,
        pytest.raises(DeliveryFailed) as limited,
    ):
        await send(AliyunSms("id", "k", "s", "t", endpoint=srv.url))
    assert limited.value.retryable


# --- Tencent Cloud SMS ---------------------------------------------------------------------------
def tc3_check(secret_key: str) -> object:
    def reply(req: Seen) -> Reply:
        h = req.headers
        auth = h["authorization"]
        algo, rest = auth.split(" ", 1)
        parts = dict(p.strip().split("=", 1) for p in rest.split(","))
        date = time.strftime("%Y-%m-%d", time.gmtime(int(h["x-tc-timestamp"])))
        signed = parts["SignedHeaders"]
        canon_headers = "".join(
            f"{n}:{h[n].strip().lower() if n == 'x-tc-action' else h[n].strip()}\n" for n in signed.split(";")
        )
        canon = f"POST\n/\n\n{canon_headers}\n{signed}\n{hashlib.sha256(req.body).hexdigest()}"
        scope = f"{date}/sms/tc3_request"
        sts = f"TC3-HMAC-SHA256\n{h['x-tc-timestamp']}\n{scope}\n{hashlib.sha256(canon.encode()).hexdigest()}"
        k = hmac.new(("TC3" + secret_key).encode(), date.encode(), hashlib.sha256).digest()
        k = hmac.new(k, b"sms", hashlib.sha256).digest()
        k = hmac.new(k, b"tc3_request", hashlib.sha256).digest()
        want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        if algo != "TC3-HMAC-SHA256" or parts["Signature"] != want or parts["Credential"] != f"AKIDtest/{scope}":
            return js(
                200,
                {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "sig"}, "RequestId": "r"}},
            )
        if h["x-tc-version"] != "2021-01-11" or h["x-tc-action"] != "SendSms":
            return js(200, {"Response": {"Error": {"Code": "InvalidAction", "Message": "?"}, "RequestId": "r"}})
        body = json.loads(req.body)
        if body["TemplateParamSet"] != ["GZ-W-0001", "3.62"] or body["SessionContext"] != "msg_01":
            return js(200, {"Response": {"Error": {"Code": "InvalidParameterValue", "Message": "?"}, "RequestId": "r"}})
        status = {"SerialNo": "2028:f825e6b16e23f73f4123", "PhoneNumber": body["PhoneNumberSet"][0], "Code": "Ok"}
        return js(200, {"Response": {"SendStatusSet": [status], "RequestId": "r"}})

    return reply


async def test_tencent_sendsms_tc3_signature() -> None:
    with fake_provider(tc3_check("tc-key")) as srv:  # type: ignore[arg-type]

        def sms(key: str) -> TencentSms:
            return TencentSms(
                "AKIDtest", key, "1400000000", "高州水务", "1234567", ["device", "value"], endpoint=srv.url + "/"
            )

        assert await send(sms("tc-key")) == "2028:f825e6b16e23f73f4123"
        with pytest.raises(DeliveryFailed) as bad:
            await send(sms("other"))
    assert json.loads(srv.seen[0].body)["PhoneNumberSet"] == ["+8613800138000"]
    assert bad.value.code == "AuthFailure.SignatureFailure" and not bad.value.retryable


async def test_tencent_per_number_failure_and_limits() -> None:
    status = {"SerialNo": "", "PhoneNumber": "+86138", "Code": "LimitExceeded.PhoneNumberDailyLimit", "Message": "x"}
    with (
        fake_provider(lambda r: js(200, {"Response": {"SendStatusSet": [status], "RequestId": "r"}})) as srv,
        pytest.raises(DeliveryFailed) as limited,
    ):
        await send(TencentSms("a", "b", "c", "d", "e", endpoint=srv.url))
    assert limited.value.code.startswith("LimitExceeded") and limited.value.retryable


# --- Twilio --------------------------------------------------------------------------------------
def twilio(req: Seen) -> Reply:
    want = "Basic " + base64.b64encode(b"AC123:tok").decode()
    if req.headers.get("authorization") != want:
        return js(401, {"code": 20003, "message": "Authenticate", "status": 401})
    if req.path != "/2010-04-01/Accounts/AC123/Messages.json":
        return js(404, {"code": 20404, "message": "not found", "status": 404})
    form = parse_qs(req.body.decode())
    if not form["To"][0].startswith("+"):
        return js(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
    return js(201, {"sid": "SM0123", "status": "queued", "body": form["Body"][0]})


async def test_twilio_messages_api() -> None:
    with fake_provider(twilio) as srv:
        ok = TwilioSms("AC123", "tok", "+15005550006", "http://hub/receipts", base_url=srv.url)
        assert await send(ok, Message(id="m", recipient="+8613800138000", subject="s", text="水位 3.6")) == "SM0123"
        with pytest.raises(DeliveryFailed) as bad_number:
            await send(ok)
        with pytest.raises(DeliveryFailed) as bad_auth:
            await send(TwilioSms("AC123", "nope", "+1", base_url=srv.url))
    assert parse_qs(srv.seen[0].body.decode())["StatusCallback"] == ["http://hub/receipts"]
    assert bad_number.value.code == "21211" and not bad_number.value.retryable
    assert bad_auth.value.code == "20003"


# --- Generic gateway and group robots ------------------------------------------------------------
async def test_generic_gateway_sends_json_with_token() -> None:
    def gw(req: Seen) -> Reply:
        if req.headers.get("authorization") != "Bearer t0k":
            return 403, "text/plain", b"no"
        return js(200, {"id": "gw-1"})

    with fake_provider(gw) as srv:
        assert await send(HttpSmsGateway(srv.url, "t0k")) == "gw-1"
        with pytest.raises(DeliveryFailed) as denied:
            await send(HttpSmsGateway(srv.url, "bad"))
    body = json.loads(srv.seen[0].body)
    assert body == {"id": "msg_01", "to": "13800138000", "text": MSG.text}
    assert srv.seen[0].headers["idempotency-key"] == "msg_01" and not denied.value.retryable


async def test_wecom_robot() -> None:
    def wecom(req: Seen) -> Reply:
        if parse_qs(urlsplit(req.path).query).get("key") != ["k-1"]:
            return js(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
        body = json.loads(req.body)
        assert body["msgtype"] == "markdown" and "水位" in body["markdown"]["content"]
        return js(200, {"errcode": 0, "errmsg": "ok"})

    with fake_provider(wecom) as srv:
        await send(WeComRobot("k-1", base_url=srv.url))
        with pytest.raises(DeliveryFailed) as bad:
            await send(WeComRobot("k-2", base_url=srv.url))
    assert bad.value.code == "93000" and not bad.value.retryable


async def test_dingtalk_robot_signed() -> None:
    def ding(req: Seen) -> Reply:
        q = parse_qs(urlsplit(req.path).query)
        ts = q["timestamp"][0]
        want = base64.b64encode(hmac.new(b"SECabc", f"{ts}\nSECabc".encode(), hashlib.sha256).digest()).decode()
        if q["sign"][0] != want or abs(int(ts) - NOW * 1000) > 3_600_000:
            return js(200, {"errcode": 310000, "errmsg": "sign not match"})
        return js(200, {"errcode": 0, "errmsg": "ok"})

    with fake_provider(ding) as srv:
        await send(DingTalkRobot("tok", "SECabc", base_url=srv.url))
        with pytest.raises(DeliveryFailed) as bad:
            await send(DingTalkRobot("tok", "SECxyz", base_url=srv.url))
    assert bad.value.code == "310000"
    with (
        fake_provider(lambda r: js(200, {"errcode": 130101, "errmsg": "send too fast"})) as srv,
        pytest.raises(DeliveryFailed) as fast,
    ):
        await send(DingTalkRobot("tok", base_url=srv.url))
    assert fast.value.retryable
