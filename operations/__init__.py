"""Operations: what an operator runs the programme from (the admin home) and what tells
them when it needs them (alerts). It reads members, claims and connections; none of
them imports it."""
