-- The original install notes' fix-up, safe on every run: w_edtperso ids come from a sequence
-- placed past max(id), and the column defaults to it. Runs at every `schedulesy migrate`
-- (files named *.always.sql are not recorded); it only ever moves the sequence forward.
CREATE SEQUENCE IF NOT EXISTS public.w_edtperso_id_seq;

SELECT setval(
    'public.w_edtperso_id_seq',
    GREATEST(
        (SELECT coalesce(max(id), 0) FROM public.w_edtperso),
        (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM public.w_edtperso_id_seq)
    ) + 1,
    false
);

ALTER TABLE public.w_edtperso ALTER COLUMN id SET DEFAULT nextval('public.w_edtperso_id_seq');
