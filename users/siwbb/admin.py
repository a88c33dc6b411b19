"""The admin shows members' BitBadges logins, never an app's secret or a token.

The client id and secret come from settings (BITBADGES_CLIENT_ID / _SECRET); allauth's
"social applications" (secrets in clear) and "tokens" (none are stored) are not shown.
"""

from allauth.socialaccount.models import SocialApp, SocialToken
from django.contrib import admin

for _model in (SocialApp, SocialToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
