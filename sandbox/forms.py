"""Forms of the sandbox control page: account health and profile, faults, BitBadges credits."""

import fnmatch
import json

from django import forms

from sandbox.common.fault_specs import SPEC_KEYS, FaultSpecError, clean_spec
from sandbox.common.faults import ENDPOINTS
from sandbox.common.models import Fault


class HealthForm(forms.Form):
    state = forms.ChoiceField(
        choices=[("healthy", "healthy"), ("unhealthy", "unhealthy"), ("dead", "dead")]
    )
    error = forms.CharField(required=False, max_length=500)


class ProfileForm(forms.Form):
    profile = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}))

    def clean_profile(self):
        try:
            value = json.loads(self.cleaned_data["profile"])
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("The profile must be a JSON object: {...}.")
        return value


class FaultForm(forms.ModelForm):
    class Meta:
        model = Fault
        fields = [
            "endpoint",
            "latency_ms",
            "rate",
            "status",
            "retry_after",
            "hang_seconds",
            "malformed",
            "error_message",
            "note",
        ]
        widgets = {"endpoint": forms.TextInput(attrs={"list": "sandbox-endpoints"})}

    def clean_endpoint(self):
        pattern = self.cleaned_data["endpoint"].strip()
        if not any(fnmatch.fnmatchcase(name, pattern) for name in ENDPOINTS):
            raise forms.ValidationError(
                f"{pattern!r} matches no endpoint. Known: {', '.join(ENDPOINTS)}."
            )
        return pattern

    def clean(self):
        cleaned = super().clean()
        spec = {key: cleaned.get(key) for key in SPEC_KEYS}
        try:
            clean_spec(spec)
        except FaultSpecError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if not (spec["latency_ms"] or spec["status"] or spec["hang_seconds"] or spec["malformed"]):
            raise forms.ValidationError(
                "Give the fault an effect: latency, status, hang or malformed."
            )
        return cleaned


class CreditsForm(forms.Form):
    """Set the emulated API key's remaining credits: 0 pauses every request with a 402."""

    MAX = 10**15

    remaining = forms.IntegerField(
        min_value=0,
        max_value=MAX,
        help_text="Credits left on the sandbox API key's account (0: every request answers 402).",
    )
