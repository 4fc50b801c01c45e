"""API tokens in the admin: seen and revoked there, made only by `manage.py api_token` (which
prints the token once; the admin could not show it)."""
from django.contrib import admin
from django.utils import timezone

from .models import ApiToken, TrackedCommand


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "user__username"]
    readonly_fields = ["user", "prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["digest"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).")


@admin.register(TrackedCommand)
class TrackedCommandAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "charge_point", "user", "status", "finished_at"]
    list_filter = ["status", "action"]
    readonly_fields = [f.name for f in TrackedCommand._meta.fields]

    def has_add_permission(self, request):
        return False
