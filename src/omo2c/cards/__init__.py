"""The member card: a rotating, signed code a customer shows in LINE and a POS sends with the order."""
