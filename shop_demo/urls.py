"""URLs of the demo shop."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from shop_demo.views import account, cart, catalogue, checkout, images

urlpatterns = [
    path("", catalogue.home, name="home"),
    path("c/<slug:slug>/", catalogue.category_detail, name="category"),
    path("p/<slug:slug>/", catalogue.product_detail, name="product"),
    path("search/", catalogue.search, name="search"),
    path("img/p/<slug:slug>.svg", images.product_image, name="product_image"),
    path("img/c/<slug:slug>.svg", images.category_image, name="category_image"),
    path("img/hero.svg", images.hero_image, name="hero_image"),
    path("cart/", cart.cart_detail, name="cart"),
    path("cart/add/", cart.cart_add, name="cart_add"),
    path("cart/update/", cart.cart_update, name="cart_update"),
    path("cart/remove/", cart.cart_remove, name="cart_remove"),
    path("checkout/", checkout.checkout, name="checkout"),
    path("checkout/done/<str:number>/", checkout.checkout_done, name="checkout_done"),
    path("account/login/", account.login_view, name="login"),
    path("account/signup/", account.signup, name="signup"),
    path("account/logout/", account.logout_view, name="logout"),
    path("account/orders/", account.order_list, name="orders"),
    path("admin/", admin.site.urls),
    path("personalize/", include("personalize.urls")),
]
