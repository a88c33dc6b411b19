"""/brand.css and /brand/logo: the brand's files, for every page."""

from django.urls import path

from branding import views

app_name = "branding"

urlpatterns = [
    path("brand.css", views.brand_css, name="css"),
    path("brand/logo", views.logo, name="logo"),
]
