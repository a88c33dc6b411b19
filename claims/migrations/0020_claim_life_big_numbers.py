"""A claim's uses as read from BitBadges in bigint columns: BitBadges sends uint64 numbers,
and a claim of more than 2,147,483,647 uses did not fit (PostgreSQL refused the reading).
What a bigint cannot hold either is kept by claims/life.py (`keep`) as described there.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0019_completion_staff_actions"),
    ]

    operations = [
        migrations.AlterField(
            model_name="claim",
            name="life_max_uses",
            field=models.PositiveBigIntegerField(
                blank=True, editable=False, null=True, verbose_name="BitBadges max uses"
            ),
        ),
        migrations.AlterField(
            model_name="claim",
            name="life_used",
            field=models.PositiveBigIntegerField(
                blank=True, editable=False, null=True, verbose_name="BitBadges uses taken"
            ),
        ),
    ]
