"""The signed-in staff member's own workspace (/me)."""
