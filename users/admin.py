from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from users.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "address", "is_staff", "is_active", "date_joined")
    readonly_fields = ("external_id", "last_login", "date_joined")
    search_fields = ("username", "email", "first_name", "last_name", "address", "external_id")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Connect & Claim", {"fields": ("external_id", "address")}),
    )
