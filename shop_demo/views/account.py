"""Accounts: sign up, log in, log out and order history. The email is the username."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, LogoutView
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_safe

import personalize
from shop_demo.forms import EmailAuthenticationForm, SignupForm
from shop_demo.models import Order

login_view = LoginView.as_view(
    template_name="account/login.html",
    authentication_form=EmailAuthenticationForm,
    redirect_authenticated_user=True,
)
logout_view = LogoutView.as_view()


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponseBase:
    if request.user.is_authenticated:
        return redirect("orders")
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    if request.method == "POST":
        form = SignupForm(request.POST)
        if form.is_valid():
            user = form.save()
            # Logging in fires user_logged_in: personalize links this visitor to the user.
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            personalize.track(request, "identify", email=user.email)
            messages.success(request, "Welcome to Pawsome! Your account is ready.")
            return redirect(next_url or "home")
    else:
        form = SignupForm()
    return render(request, "account/signup.html", {"form": form, "next": next_url})


@require_safe
@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    orders = Order.objects.filter(user=request.user.pk).prefetch_related("items")
    page = Paginator(orders, 10).get_page(request.GET.get("page"))
    return render(request, "account/orders.html", {"page": page})
