"""Customer↔staff conversations: LINE messages kept per member, staff replies, unread counts, the shared inbox."""
