"""Members in many states, for the tests of what members read (issue 20 item 1, issue 21).

`seed_claims(apps)` and `seed_members(connect, settings)` reach the states through the
real engine against the sandbox (over HTTP, with the task worker): new, not yet with a
number seen, a check upstream cannot answer, a must-not check met, none of a "one of
these" group met, an account gone dead,
earned then disconnected, delivery being retried, taken back by the organiser.
`member_paths(claims)` lists the member pages to open. Used by
tests/claims/test_member_words.py and tests/i18n/test_translation_ready.py.
"""

from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, Resolver404, resolve

from claims.engine.staff_actions import REVOKED_REASON
from claims.models import Claim, Completion
from connections import services as connections_services
from connections.models import ConnectedAccount
from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.pipedream.catalogue import DEMO_STARRED_REPO
from tests.claims.claims_support import (
    ALICE_ADDRESS,
    add_check,
    random_address,
    require,
    run_worker,
)
from tests.members_support import verify_email

USER_URL = "https://api.github.com/user"
PASSWORD = "purple-Kettle-42-river"


def bitbadges_claim(slug: str, name: str) -> Claim:
    upstream = bb_sandbox_claims.claim_create(max_uses=100, password="pw")
    claim = Claim(
        slug=slug,
        name=name,
        delivery="bitbadges",
        bitbadges_claim_id=upstream.claim_id,
        password_instance_id="pwd",
        enabled=True,
    )
    claim.set_password("pw")
    claim.full_clean()
    claim.save()
    return claim


def seed_claims(apps) -> list[Claim]:
    github = apps["github"]
    repos = bitbadges_claim("repos", "Five repositories")
    add_check(repos, github, proxy_url=USER_URL, path="public_repos", comparison="gte", value="5")
    stars = bitbadges_claim("stars", "Stargazer")
    star = add_check(
        stars,
        github,
        proxy_url=f"{USER_URL}/starred/{DEMO_STARRED_REPO}",
        path="$status",
        comparison="eq",
        value="204",
    )
    star.link = f"https://github.com/{DEMO_STARRED_REPO}"
    star.save()
    worded = bitbadges_claim("worded", "In the operator's words")
    add_check(
        worded,
        github,
        proxy_url=USER_URL,
        path="user.public_repos",
        comparison="gte",
        value="5",
        text="Have at least 5 public repositories",
    )
    newcomers = bitbadges_claim("newcomers", "Newcomers only")
    require(newcomers, github)
    add_check(
        newcomers,
        github,
        group="none",
        proxy_url=USER_URL,
        path="public_repos",
        comparison="gte",
        value="20",
    )
    unanswerable = bitbadges_claim("unanswerable", "Starred nothing")
    add_check(
        unanswerable,
        github,
        proxy_url=f"{USER_URL}/starred/nobody/nothing",
        path="starred",
        comparison="truthy",
        value="",
    )
    chat = bitbadges_claim("chat", "Chat member")
    require(chat, apps["discord"])
    # One of two, neither met: "Meet one of these: ..." is the reason stored.
    either = bitbadges_claim("either", "One of two")
    add_check(
        either,
        github,
        group="any",
        proxy_url=USER_URL,
        path="public_repos",
        comparison="gte",
        value="1000",
    )
    require(either, apps["slack"], group="any")
    return [repos, stars, worded, newcomers, unanswerable, chat, either]


def member(username: str, *, address: str = "", verified: bool = True):
    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password=PASSWORD, address=address
    )
    return verify_email(user) if verified else user


def seed_members(connect, settings) -> list:
    alice = member("alice", address=ALICE_ADDRESS)
    bob = member("bob", address=random_address())
    carol = member("carol", address=random_address())
    # New: nothing connected, no address; an underscore in the username (a person's name
    # on the page is theirs to choose, and is not a field name).
    dave = member("dave_new")
    erin = member("erin", address=random_address(), verified=False)
    connect(alice, "github", "octo-pro")
    connect(bob, "github", "octo")
    connect(carol, "github", "carol-pro")
    connect(erin, "github", "erin")
    run_worker()
    # Earned, then disconnected: the badge stays earned.
    alice_github = ConnectedAccount.objects.get(member=alice)
    connections_services.account_disconnect(member=alice, account=alice_github)
    # An account gone dead after a check.
    ConnectedAccount.objects.filter(member=carol).update(
        healthy=False, dead=True, error="HTTP 401: Bad credentials at user.login"
    )
    # Taken back by the organiser (the reason staff actions write).
    Completion.objects.filter(member=carol, state="completed").update(
        state="revoked", reason=REVOKED_REASON
    )
    # Delivery refused for a while by BitBadges: retried by itself.
    # (One claim is enough: the others wait meanwhile.)
    others = Claim.objects.exclude(slug="repos").filter(enabled=True)
    kept = list(others.values_list("pk", flat=True))
    others.update(enabled=False)
    settings.SANDBOX_FAULTS = {"bitbadges.*": {"status": 503}}
    frank = member("frank", address=random_address())
    connect(frank, "github", "frank-pro")
    run_worker()
    settings.SANDBOX_FAULTS = {}
    Claim.objects.filter(pk__in=kept).update(enabled=True)
    return [alice, bob, carol, dave, erin, frank]


def member_paths(claims) -> list[str]:
    paths = ["/", "/claims/", "/accounts/", "/profile/", "/email/", "/c/"]
    paths += [f"/c/{claim.slug}/" for claim in claims]
    return [path for path in paths if resolves(path)]


def resolves(path: str) -> bool:
    try:
        resolve(path)
    except (Resolver404, NoReverseMatch):
        return False
    return True
