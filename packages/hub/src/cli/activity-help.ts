/** The help text of `tshub activity`, apart from the command so that `--help` loads no database code. */
export const ACTIVITY_HELP = `Usage: tshub activity [--from TIME] [--to TIME] [--bucket hour|day] [--json] [--config FILE]

Prints the activity report of the hub's activity log (what GET /hub/api/activity returns): active
users and running servers per hour or day, spawn time percentiles, spawn failures and culls by
reason, and a summary per user. TIME is ISO 8601 (2024-05-01T08:00:00Z) or a date (2024-05-01), UTC.

Options:
  --from TIME        start of the range (default: 1 day before --to; 30 days with --bucket day)
  --to TIME          end of the range, exclusive (default: now)
  --bucket hour|day  the time bucket of the series (default: hour)
  --json             print the report as JSON
  -c, --config FILE  the config file (for hub.db_url / hub.data_dir)

With the embedded database (PGlite), run it while the hub is stopped, or ask the running hub:
GET /hub/api/activity with an admin token.
`;
