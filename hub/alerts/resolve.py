"""Effective rules of a device: profile defaults, then region overrides (city → town → village), then the device's.

The most specific layer wins: a rule with the same id replaces the one
above it, ``disable`` removes a rule, a new id adds one. A region override
may be limited to one profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from citysense.profiles.alertrules import AlertRule, RuleOverride


def _apply(rules: dict[str, AlertRule], ov: RuleOverride, profile: str) -> None:
    if ov.profile is not None and ov.profile != profile:
        return
    for rid in ov.disable:
        rules.pop(rid, None)
    for r in ov.rules:
        rules[r.id] = r


def effective_rules(
    *,
    profile: str,
    profile_rules: Sequence[AlertRule],
    device: str,
    region_chain: Sequence[str],
    region_rules: Mapping[str, RuleOverride],
    device_rules: Mapping[str, RuleOverride],
) -> list[AlertRule]:
    """Return the enabled rules of one device; ``region_chain`` is most specific first."""
    rules = {r.id: r for r in profile_rules}
    for code in reversed(region_chain):  # city first, so the village's override lands last
        ov = region_rules.get(code)
        if ov is not None:
            _apply(rules, ov, profile)
    dev = device_rules.get(device)
    if dev is not None:
        _apply(rules, dev, profile)
    return [r for r in rules.values() if r.enabled]
