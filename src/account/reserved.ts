/**
 * First labels a user may not register under the server's handle domains:
 * names that look like the service itself, its staff or infrastructure, or
 * that mail and web tooling treat specially. Operators with a different
 * policy change this list; it is data, not logic.
 */
export const RESERVED_HANDLE_LABELS: ReadonlySet<string> = new Set([
  // The service and the protocol.
  "aurora", "atproto", "bluesky", "bsky", "pds", "plc", "did", "xrpc", "lexicon", "relay", "appview", "firehose", "labeler",
  "feed", "feeds", "feedgen", "ozone", "chat", "dm", "api", "app", "apps", "sync", "repo", "identity", "handle", "handles",
  // People in charge.
  "admin", "administrator", "admins", "root", "sysadmin", "superuser", "owner", "operator", "staff", "team", "official",
  "moderator", "moderators", "mod", "mods", "moderation", "safety", "trust", "trustandsafety", "support", "help", "helpdesk",
  "security", "abuse", "legal", "privacy", "compliance", "billing", "sales", "press", "media", "contact", "info", "news",
  // Mail and DNS conventions.
  "postmaster", "hostmaster", "webmaster", "mailer-daemon", "noreply", "no-reply", "mail", "email", "smtp", "imap", "pop",
  "dns", "ns1", "ns2", "mx", "www", "ftp", "ssh", "vpn", "cdn", "static", "assets", "media-cdn", "img", "images",
  // Pages and routes a web front end may want.
  "about", "account", "accounts", "auth", "oauth", "login", "logout", "signin", "signout", "signup", "register", "settings",
  "profile", "profiles", "search", "explore", "home", "status", "docs", "blog", "dev", "developer", "developers", "wiki",
  "terms", "tos", "policy", "policies", "copyright", "dmca", "jobs", "careers",
  // Values that confuse software.
  "null", "undefined", "none", "nil", "true", "false", "anonymous", "unknown", "invalid", "test", "example", "localhost",
  "everyone", "all", "here", "self", "me", "you", "user", "users",
]);
