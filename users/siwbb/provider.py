"""The "bitbadges" provider: OAuth 2.0 on BitBadges' SIWBB endpoints (users/siwbb/config.py).

allauth finds it as `users.siwbb.provider.provider_classes`; its URLs are urls.py's.
"""

from allauth.socialaccount.providers.base import ProviderAccount
from allauth.socialaccount.providers.oauth2.provider import OAuth2Provider

from users.siwbb.config import PROVIDER_ID
from users.siwbb.views import BitBadgesOAuth2Adapter


class BitBadgesAccount(ProviderAccount):
    def to_str(self) -> str:
        # The address BitBadges proved (the uid, bb1), as the member reads it.
        return self.account.uid


class BitBadgesProvider(OAuth2Provider):
    id = PROVIDER_ID
    name = "BitBadges"
    account_class = BitBadgesAccount
    oauth2_adapter_class = BitBadgesOAuth2Adapter

    def get_default_scope(self) -> list[str]:
        return []

    def get_scope_from_request(self, request) -> list[str]:
        # Never a scope from the query string: we ask for the address only.
        return []

    def get_auth_params_from_request(self, request, action) -> dict:
        # Nor extra parameters for BitBadges' page from the query string.
        return {}

    def extract_uid(self, data: dict) -> str:
        return data["bitbadgesAddress"]

    def extract_extra_data(self, data: dict) -> dict:
        # The answer as client.read_answer kept it: the addresses and the chain, no token.
        return {key: data[key] for key in ("bitbadgesAddress", "address", "chain") if key in data}

    def extract_common_fields(self, data: dict) -> dict:
        # No email, no name: the adapter makes a username from the address.
        return {}


provider_classes = [BitBadgesProvider]
