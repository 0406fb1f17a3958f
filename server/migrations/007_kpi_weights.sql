-- Kefu server, schema version 7: each team's KPI configuration (绩效考核权重), set by its
-- supervisor on the dashboard. `json` holds {"weights": {...}, "penalties": {...}} in the
-- field names of kefu-kpi's `Weights` and `Penalties`; a team without a row uses their
-- defaults. Validated before it is written (kefu_kpi::Weights::validate, Penalties::validate).
CREATE TABLE kpi_weights (
    team        TEXT PRIMARY KEY,
    json        TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
