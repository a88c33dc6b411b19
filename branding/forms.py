"""The admin's Brand form: the logo arrives as an upload and is kept as bytes; every
field refuses what would break a page or an email header, in words that say why."""

from django import forms
from django.core.exceptions import ValidationError

from branding.colours import accent_clean
from branding.images import MAX_BYTES, logo_clean
from branding.models import Brand


def _one_line(value: str, what: str) -> str:
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValidationError(
            f"The {what} must be one line, without line breaks or control characters: it "
            "goes into email headers."
        )
    return value


class BrandForm(forms.ModelForm):
    logo_upload = forms.FileField(
        label="New logo",
        required=False,
        help_text=(
            "A PNG, JPEG or WebP image of at most 200 KB, shown about 32 pixels high beside "
            "the name. SVG is refused (it can carry scripts), and there is no logo URL: a "
            "remote logo would let a third party see every visit."
        ),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    logo_remove = forms.BooleanField(
        label="Remove the logo", required=False, help_text="Show the name alone again."
    )

    class Meta:
        model = Brand
        fields = ["name", "support_email", "accent_colour"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("accent_colour")  # absent for staff who may only view
        if field is None:
            return
        field.help_text += (
            " Links and labels on the pages' tinted boxes (messages, status labels) use a "
            "slightly darker shade of it when that is what keeps them at 4.5:1 there."
        )

    def clean_name(self) -> str:
        return _one_line(self.cleaned_data["name"].strip(), "name")

    def clean_support_email(self) -> str:
        return _one_line(self.cleaned_data["support_email"].strip(), "support address")

    def clean_accent_colour(self) -> str:
        value = self.cleaned_data["accent_colour"].strip()
        return accent_clean(value) if value else ""

    def clean_logo_upload(self) -> bytes | None:
        upload = self.cleaned_data.get("logo_upload")
        if not upload:
            return None
        if upload.size and upload.size > MAX_BYTES:
            # Said before reading it: the size is known from the upload.
            raise ValidationError(
                "The logo is %(kb)d KB; the limit is 200 KB. Export it smaller (a logo is "
                "shown about 32 pixels high).",
                params={"kb": -(-upload.size // 1024)},
            )
        data = upload.read(MAX_BYTES + 1)
        self.logo_details = logo_clean(data)
        return data

    def save(self, commit: bool = True) -> Brand:
        brand = super().save(commit=False)
        data = self.cleaned_data.get("logo_upload")
        if data:
            brand.logo = data
            brand.logo_type = self.logo_details.content_type
            brand.logo_width = self.logo_details.width
            brand.logo_height = self.logo_details.height
        elif self.cleaned_data.get("logo_remove"):
            brand.logo, brand.logo_type = None, ""
            brand.logo_width = brand.logo_height = None
        if commit:
            brand.save()
        return brand
