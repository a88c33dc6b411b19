"""Every delivery method a claim can choose has a class in claims/engine/methods/, and
each class answers the whole interface: a fourth method is one module and its choice."""

import pytest

from claims import services
from claims.engine.methods import METHODS
from claims.engine.methods.base import DeliveryMethod
from claims.models import Claim

INTERFACE = ("send", "verify", "check_settings", "describe")


def test_every_delivery_choice_has_its_method():
    assert sorted(METHODS) == sorted(Claim.Delivery.values)
    for value, method in METHODS.items():
        assert method.value == value
        assert services.method_of(value) is method
    assert services.method_of("carrier-pigeon") is None


@pytest.mark.parametrize("value", Claim.Delivery.values)
def test_each_method_implements_the_whole_interface(value):
    method = METHODS[value]
    for name in INTERFACE:
        assert getattr(type(method), name) is not getattr(DeliveryMethod, name), name
    assert method.label
    sentence = method.describe(Claim(delivery=value))
    assert sentence.endswith(".") and "_" not in sentence  # words for members, no field names


def test_only_a_workflow_waits_for_an_admin_before_sending_again():
    assert [value for value, method in METHODS.items() if not method.resends_by_itself] == [
        Claim.Delivery.WORKFLOW
    ]
