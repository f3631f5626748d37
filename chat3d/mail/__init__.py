"""Mail: templates rendered to text + HTML, delivered over SMTP or, without SMTP, as files (the dev mailbox)."""
