"""Every form of the shop: cart changes, checkout and accounts."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User

from shop_demo.cart import MAX_QUANTITY

MAX_PRODUCT_ID = 2**31 - 1


class NoColonLabels:
    """Labels without Django's trailing colon (the design puts them above the input)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class CartLineForm(NoColonLabels, forms.Form):
    """Add to cart (quantity is how many to add) and update (the new quantity)."""

    product_id = forms.IntegerField(min_value=1, max_value=MAX_PRODUCT_ID, widget=forms.HiddenInput)
    quantity = forms.IntegerField(
        min_value=1,
        max_value=MAX_QUANTITY,
        initial=1,
        error_messages={
            "min_value": "Choose at least 1.",
            "max_value": f"You can order at most {MAX_QUANTITY} of a product.",
            "invalid": "Enter a whole number.",
            "required": "Enter a quantity.",
        },
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_QUANTITY, "inputmode": "numeric"}),
    )


class CartRemoveForm(forms.Form):
    product_id = forms.IntegerField(min_value=1, max_value=MAX_PRODUCT_ID)


COUNTRIES = [
    ("DE", "Germany"),
    ("AT", "Austria"),
    ("BE", "Belgium"),
    ("ES", "Spain"),
    ("FR", "France"),
    ("IE", "Ireland"),
    ("IT", "Italy"),
    ("NL", "Netherlands"),
    ("PT", "Portugal"),
    ("FI", "Finland"),
]


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class CheckoutForm(NoColonLabels, forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    name = forms.CharField(
        label="Full name", max_length=120, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    address = forms.CharField(
        max_length=200, widget=forms.TextInput(attrs={"autocomplete": "street-address"})
    )
    postcode = forms.RegexField(
        regex=r"^[A-Za-z0-9][A-Za-z0-9 -]{1,10}$",
        max_length=12,
        error_messages={"invalid": "Enter a valid postcode."},
        widget=forms.TextInput(attrs={"autocomplete": "postal-code"}),
    )
    city = forms.CharField(
        max_length=80, widget=forms.TextInput(attrs={"autocomplete": "address-level2"})
    )
    country = forms.ChoiceField(choices=COUNTRIES, initial="DE")
    card_number = forms.CharField(
        label="Card number",
        max_length=30,
        help_text="Demo shop: no payment is taken. Use 4242 4242 4242 4242.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "inputmode": "numeric",
                "placeholder": "4242 4242 4242 4242",
            }
        ),
    )
    card_expiry = forms.CharField(
        label="Expiry (MM/YY)",
        max_length=7,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "12/30"}),
    )
    card_cvc = forms.RegexField(
        label="CVC",
        regex=r"^\d{3,4}$",
        max_length=4,
        error_messages={"invalid": "Enter the 3 or 4 digits on the back of the card."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()

    def clean_card_number(self) -> str:
        digits = re.sub(r"[\s-]", "", self.cleaned_data["card_number"])
        if not digits.isdigit() or not 12 <= len(digits) <= 19 or not _luhn_ok(digits):
            raise forms.ValidationError("Enter a valid card number, e.g. 4242 4242 4242 4242.")
        return digits[-4:]  # never keep more than the last four digits

    def clean_card_expiry(self) -> str:
        value = self.cleaned_data["card_expiry"].strip()
        match = re.fullmatch(r"(\d{1,2})\s*/\s*(\d{2}|\d{4})", value)
        if not match or not 1 <= int(match[1]) <= 12:
            raise forms.ValidationError("Enter the expiry date as MM/YY.")
        month, year = int(match[1]), int(match[2])
        year = year + 2000 if year < 100 else year
        today = date.today()
        if (year, month) < (today.year, today.month):
            raise forms.ValidationError("This card has expired.")
        return f"{month:02d}/{year % 100:02d}"


class SignupForm(NoColonLabels, forms.Form):
    email = forms.EmailField(
        max_length=150, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        strip=False,
        help_text="At least 8 characters, not a common password.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"]).strip().lower()
        if User.objects.filter(username__iexact=email).exists():
            raise forms.ValidationError(
                "An account with this email already exists. Log in instead."
            )
        return email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            user = User(username=cleaned.get("email", ""), email=cleaned.get("email", ""))
            try:
                password_validation.validate_password(password, user)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned

    def save(self) -> User:
        email = self.cleaned_data["email"]
        return User.objects.create_user(
            username=email, email=email, password=self.cleaned_data["password"]
        )


class EmailAuthenticationForm(NoColonLabels, AuthenticationForm):
    """Log in with the email address (it is the username)."""

    username = forms.EmailField(
        label="Email",
        max_length=150,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )

    def clean_username(self) -> str:
        return str(self.cleaned_data["username"]).strip().lower()

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an account.",
    }
