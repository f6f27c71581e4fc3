-- ADE's legacy personal-timetable table. In production it already exists (ADE owns its schema):
-- create it only when absent, with the legacy column types (docs/compatibility.md §4.1).
CREATE TABLE IF NOT EXISTS public.w_edtperso (
    id                      integer PRIMARY KEY,
    configuration_affichage varchar(60) DEFAULT '',
    ressources              varchar(300) DEFAULT '',
    uds_directory_id        varchar(32) UNIQUE,
    code_harp               varchar(15) DEFAULT '',
    date_creation           timestamp,
    date_personnalisation   timestamp,
    uid                     varchar(32)
);

CREATE INDEX IF NOT EXISTS w_edtperso_uid_idx ON public.w_edtperso (uid);
