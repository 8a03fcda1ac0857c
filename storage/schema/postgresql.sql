-- Digilog's schema at revision 0031, written by `make schema`; do not edit.

CREATE FUNCTION public.audit_log_refuse() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;

CREATE TABLE public.alembic_version (
    version_num character varying(32) NOT NULL
);

CREATE TABLE public.attendance (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    entry_key character varying(60) NOT NULL,
    person_id integer NOT NULL,
    present boolean NOT NULL,
    by_self boolean NOT NULL,
    marked_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE public.attendance_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.attendance_id_seq OWNED BY public.attendance.id;

CREATE TABLE public.audit_log (
    id integer NOT NULL,
    at timestamp with time zone NOT NULL,
    action character varying(40) NOT NULL,
    cohort_id integer,
    actor_person_id integer,
    subject_person_id integer,
    detail json
);

CREATE SEQUENCE public.audit_log_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.audit_log_id_seq OWNED BY public.audit_log.id;

CREATE TABLE public.buddy_groups (
    id integer NOT NULL,
    round_id integer NOT NULL
);

CREATE SEQUENCE public.buddy_groups_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.buddy_groups_id_seq OWNED BY public.buddy_groups.id;

CREATE TABLE public.buddy_members (
    id integer NOT NULL,
    group_id integer NOT NULL,
    person_id integer NOT NULL,
    met_at timestamp with time zone
);

CREATE SEQUENCE public.buddy_members_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.buddy_members_id_seq OWNED BY public.buddy_members.id;

CREATE TABLE public.buddy_rounds (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    theme_number integer NOT NULL,
    seed integer NOT NULL,
    created_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE public.buddy_rounds_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.buddy_rounds_id_seq OWNED BY public.buddy_rounds.id;

CREATE TABLE public.buddy_rules (
    cohort_id integer NOT NULL,
    first_id integer NOT NULL,
    second_id integer NOT NULL,
    pinned boolean NOT NULL
);

CREATE TABLE public.calendar_entries (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    key character varying(60) NOT NULL,
    kind character varying(30) NOT NULL,
    theme_number integer,
    starts_at timestamp with time zone NOT NULL,
    ends_at timestamp with time zone,
    place json,
    link character varying(500),
    title json,
    capacity integer,
    organisation character varying(64),
    host character varying(200)
);

CREATE SEQUENCE public.calendar_entries_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.calendar_entries_id_seq OWNED BY public.calendar_entries.id;

CREATE TABLE public.cohort_channels (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    platform character varying(20) NOT NULL,
    workspace character varying(100) NOT NULL,
    conversation_id character varying(200) NOT NULL
);

CREATE SEQUENCE public.cohort_channels_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.cohort_channels_id_seq OWNED BY public.cohort_channels.id;

CREATE TABLE public.cohorts (
    id integer NOT NULL,
    key character varying(64) NOT NULL,
    program_id character varying(64) NOT NULL,
    title character varying(200) NOT NULL,
    platform character varying(20) NOT NULL,
    workspace character varying(100) NOT NULL,
    conversation_id character varying(200) NOT NULL,
    language character varying(5) NOT NULL,
    timezone character varying(64) NOT NULL,
    self_enrol boolean NOT NULL,
    created_at timestamp with time zone NOT NULL,
    pseudonym_salt character varying(64)
);

CREATE SEQUENCE public.cohorts_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.cohorts_id_seq OWNED BY public.cohorts.id;

CREATE TABLE public.conversation_addresses (
    platform character varying(20) NOT NULL,
    workspace character varying(100) NOT NULL,
    conversation_id character varying(300) NOT NULL,
    address character varying(500) NOT NULL,
    bot_id character varying(200) NOT NULL,
    user_id character varying(200),
    updated_at timestamp with time zone NOT NULL
);

CREATE TABLE public.deliveries (
    id integer NOT NULL,
    key character varying(200) NOT NULL,
    cohort_id integer NOT NULL,
    kind character varying(30) NOT NULL,
    theme_number integer,
    person_id integer,
    about_person_id integer,
    detail json,
    due_at timestamp with time zone NOT NULL,
    relevant_until timestamp with time zone,
    state character varying(20) NOT NULL,
    attempts integer NOT NULL,
    lease_until timestamp with time zone,
    claimed_by character varying(100),
    maybe_sent boolean NOT NULL,
    conversation_id character varying(200),
    message_id character varying(200),
    sent_at timestamp with time zone,
    reason text,
    created_at timestamp with time zone NOT NULL,
    priority integer DEFAULT 2 NOT NULL,
    step character varying(200),
    trouble character varying(30),
    trouble_since timestamp with time zone
);

CREATE SEQUENCE public.deliveries_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.deliveries_id_seq OWNED BY public.deliveries.id;

CREATE TABLE public.delivery_outages (
    cohort_id integer NOT NULL,
    step character varying(200) NOT NULL,
    kind character varying(30) NOT NULL,
    trouble character varying(30) NOT NULL,
    since timestamp with time zone NOT NULL,
    noticed_at timestamp with time zone NOT NULL,
    recovered_at timestamp with time zone
);

CREATE TABLE public.event_registrations (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    entry_key character varying(60) NOT NULL,
    person_id integer NOT NULL,
    created_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE public.event_registrations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.event_registrations_id_seq OWNED BY public.event_registrations.id;

CREATE TABLE public.gatherings (
    cohort_id integer NOT NULL,
    entry_key character varying(60) NOT NULL,
    self_marking boolean NOT NULL,
    capacity integer,
    taken integer NOT NULL
);

CREATE TABLE public.inbound_failures (
    id integer NOT NULL,
    platform character varying(20) NOT NULL,
    workspace character varying(100) NOT NULL,
    user_id character varying(100) NOT NULL,
    conversation_id character varying(300),
    cohort_id integer,
    kind character varying(30) NOT NULL,
    what character varying(200) NOT NULL,
    reason text NOT NULL,
    attempts integer NOT NULL,
    told boolean NOT NULL,
    received_at timestamp with time zone NOT NULL,
    failed_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE public.inbound_failures_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.inbound_failures_id_seq OWNED BY public.inbound_failures.id;

CREATE TABLE public.inbound_journal (
    id integer NOT NULL,
    platform character varying(20) NOT NULL,
    event_id character varying(200),
    kind character varying(30) NOT NULL,
    payload json NOT NULL,
    due_at timestamp with time zone NOT NULL,
    lease_until timestamp with time zone,
    claimed_by character varying(100),
    attempts integer NOT NULL,
    handled boolean NOT NULL,
    reason text,
    received_at timestamp with time zone NOT NULL,
    request_id character varying(64)
);

CREATE SEQUENCE public.inbound_journal_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.inbound_journal_id_seq OWNED BY public.inbound_journal.id;

CREATE TABLE public.kept_figures (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    name character varying(100) NOT NULL,
    title character varying(200) NOT NULL,
    content bytea NOT NULL,
    kept_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE public.kept_figures_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.kept_figures_id_seq OWNED BY public.kept_figures.id;

CREATE TABLE public.lab_seats (
    cohort_id integer NOT NULL,
    session_key character varying(120) NOT NULL,
    capacity integer NOT NULL,
    taken integer NOT NULL
);

CREATE TABLE public.lab_signups (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    session_key character varying(120) NOT NULL,
    person_id integer NOT NULL,
    state character varying(20) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    attended_at timestamp with time zone
);

CREATE SEQUENCE public.lab_signups_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.lab_signups_id_seq OWNED BY public.lab_signups.id;

CREATE TABLE public.memberships (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    person_id integer NOT NULL,
    organisation_id integer NOT NULL,
    role character varying(20) NOT NULL,
    joined_at timestamp with time zone NOT NULL,
    buddy_opt_out boolean DEFAULT false NOT NULL
);

CREATE SEQUENCE public.memberships_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.memberships_id_seq OWNED BY public.memberships.id;

CREATE TABLE public.offered_files (
    id character varying(32) NOT NULL,
    workspace character varying(100) NOT NULL,
    user_id character varying(100) NOT NULL,
    filename character varying(200) NOT NULL,
    content bytea NOT NULL,
    offered_at timestamp with time zone NOT NULL
);

CREATE TABLE public.organisations (
    id integer NOT NULL,
    program_id character varying(64) NOT NULL,
    key character varying(64) NOT NULL,
    name json NOT NULL
);

CREATE SEQUENCE public.organisations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.organisations_id_seq OWNED BY public.organisations.id;

CREATE TABLE public.people (
    id integer NOT NULL,
    platform character varying(20) NOT NULL,
    workspace character varying(100) NOT NULL,
    user_id character varying(100),
    email character varying(320),
    display_name character varying(200) NOT NULL,
    language character varying(5),
    created_at timestamp with time zone NOT NULL,
    timezone character varying(64),
    working_hours character varying(40),
    nudges_snoozed_until timestamp with time zone,
    muted_nudges json,
    nudges_paused_at timestamp with time zone,
    unreachable_since timestamp with time zone
);

CREATE SEQUENCE public.people_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.people_id_seq OWNED BY public.people.id;

CREATE TABLE public.planned_steps (
    cohort_id integer NOT NULL,
    step character varying(200) NOT NULL,
    mark character varying(200) NOT NULL,
    planned_at timestamp with time zone NOT NULL
);

CREATE TABLE public.processed_events (
    id integer NOT NULL,
    platform character varying(20) NOT NULL,
    delivery_id character varying(200) NOT NULL,
    received_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE public.processed_events_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.processed_events_id_seq OWNED BY public.processed_events.id;

CREATE TABLE public.programs (
    id character varying(64) NOT NULL,
    title json NOT NULL,
    definition json NOT NULL,
    checksum character varying(64) NOT NULL,
    loaded_at timestamp with time zone NOT NULL
);

CREATE TABLE public.quiz_answers (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    person_id integer NOT NULL,
    theme_number integer NOT NULL,
    question_index integer NOT NULL,
    option_index integer NOT NULL,
    correct boolean NOT NULL,
    answered_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE public.quiz_answers_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.quiz_answers_id_seq OWNED BY public.quiz_answers.id;

CREATE TABLE public.reflection_task_choices (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    theme_number integer NOT NULL,
    person_id integer NOT NULL,
    form character varying(20) NOT NULL,
    partner_id integer,
    partner_name character varying(200),
    chosen_at timestamp with time zone NOT NULL,
    done_at timestamp with time zone,
    finding_id integer
);

CREATE SEQUENCE public.reflection_task_choices_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.reflection_task_choices_id_seq OWNED BY public.reflection_task_choices.id;

CREATE TABLE public.reflections (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    author_id integer NOT NULL,
    organisation_id integer NOT NULL,
    theme_number integer,
    source character varying(20) NOT NULL,
    visibility character varying(20) NOT NULL,
    body text NOT NULL,
    message_id character varying(200),
    reply_to_id integer,
    replied_to_person_id integer,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    search_version integer DEFAULT 0 NOT NULL,
    search_vector tsvector,
    search_forms tsvector
);
ALTER TABLE ONLY public.reflections ALTER COLUMN search_vector SET STORAGE MAIN;

CREATE SEQUENCE public.reflections_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.reflections_id_seq OWNED BY public.reflections.id;

CREATE TABLE public.retention (
    cohort_id integer NOT NULL,
    ends_at timestamp with time zone,
    days integer NOT NULL,
    reflection_days integer,
    quiz_answer_days integer,
    noticed json,
    deleted json
);

CREATE TABLE public.slack_bots (
    id integer NOT NULL,
    client_id character varying(32) NOT NULL,
    app_id character varying(32) NOT NULL,
    enterprise_id character varying(32),
    enterprise_name character varying(200),
    team_id character varying(32),
    team_name character varying(200),
    bot_token character varying(1000),
    bot_id character varying(32),
    bot_user_id character varying(32),
    bot_scopes character varying(1000),
    bot_refresh_token character varying(1000),
    bot_token_expires_at timestamp without time zone,
    is_enterprise_install boolean NOT NULL,
    installed_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.slack_bots_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.slack_bots_id_seq OWNED BY public.slack_bots.id;

CREATE TABLE public.slack_installations (
    id integer NOT NULL,
    client_id character varying(32) NOT NULL,
    app_id character varying(32) NOT NULL,
    enterprise_id character varying(32),
    enterprise_name character varying(200),
    enterprise_url character varying(200),
    team_id character varying(32),
    team_name character varying(200),
    bot_token character varying(1000),
    bot_id character varying(32),
    bot_user_id character varying(32),
    bot_scopes character varying(1000),
    bot_refresh_token character varying(1000),
    bot_token_expires_at timestamp without time zone,
    user_id character varying(32) NOT NULL,
    user_token character varying(1000),
    user_scopes character varying(1000),
    user_refresh_token character varying(1000),
    user_token_expires_at timestamp without time zone,
    incoming_webhook_url character varying(1000),
    incoming_webhook_channel character varying(200),
    incoming_webhook_channel_id character varying(200),
    incoming_webhook_configuration_url character varying(200),
    is_enterprise_install boolean NOT NULL,
    token_type character varying(32),
    installed_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.slack_installations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.slack_installations_id_seq OWNED BY public.slack_installations.id;

CREATE TABLE public.slack_oauth_states (
    id integer NOT NULL,
    state character varying(200) NOT NULL,
    expire_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.slack_oauth_states_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.slack_oauth_states_id_seq OWNED BY public.slack_oauth_states.id;

CREATE TABLE public.survey_answers (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    survey_key character varying(100) NOT NULL,
    person_id integer NOT NULL,
    question_id character varying(64) NOT NULL,
    rating integer,
    text text,
    answered_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE public.survey_answers_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.survey_answers_id_seq OWNED BY public.survey_answers.id;

CREATE TABLE public.survey_windows (
    cohort_id integer NOT NULL,
    survey_key character varying(100) NOT NULL,
    opened_at timestamp with time zone NOT NULL,
    closed_at timestamp with time zone
);

CREATE TABLE public.theme_posts (
    id integer NOT NULL,
    run_id integer NOT NULL,
    channel_id integer NOT NULL,
    message_id character varying(200) NOT NULL
);

CREATE SEQUENCE public.theme_posts_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.theme_posts_id_seq OWNED BY public.theme_posts.id;

CREATE TABLE public.theme_runs (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    theme_number integer NOT NULL,
    started_at timestamp with time zone NOT NULL,
    started_by integer,
    forced boolean NOT NULL,
    post_message_id character varying(200),
    digilog_closed_at timestamp with time zone,
    quiz_opened_at timestamp with time zone,
    quiz_closed_at timestamp with time zone
);

CREATE SEQUENCE public.theme_runs_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.theme_runs_id_seq OWNED BY public.theme_runs.id;

ALTER TABLE ONLY public.attendance ALTER COLUMN id SET DEFAULT nextval('public.attendance_id_seq'::regclass);

ALTER TABLE ONLY public.audit_log ALTER COLUMN id SET DEFAULT nextval('public.audit_log_id_seq'::regclass);

ALTER TABLE ONLY public.buddy_groups ALTER COLUMN id SET DEFAULT nextval('public.buddy_groups_id_seq'::regclass);

ALTER TABLE ONLY public.buddy_members ALTER COLUMN id SET DEFAULT nextval('public.buddy_members_id_seq'::regclass);

ALTER TABLE ONLY public.buddy_rounds ALTER COLUMN id SET DEFAULT nextval('public.buddy_rounds_id_seq'::regclass);

ALTER TABLE ONLY public.calendar_entries ALTER COLUMN id SET DEFAULT nextval('public.calendar_entries_id_seq'::regclass);

ALTER TABLE ONLY public.cohort_channels ALTER COLUMN id SET DEFAULT nextval('public.cohort_channels_id_seq'::regclass);

ALTER TABLE ONLY public.cohorts ALTER COLUMN id SET DEFAULT nextval('public.cohorts_id_seq'::regclass);

ALTER TABLE ONLY public.deliveries ALTER COLUMN id SET DEFAULT nextval('public.deliveries_id_seq'::regclass);

ALTER TABLE ONLY public.event_registrations ALTER COLUMN id SET DEFAULT nextval('public.event_registrations_id_seq'::regclass);

ALTER TABLE ONLY public.inbound_failures ALTER COLUMN id SET DEFAULT nextval('public.inbound_failures_id_seq'::regclass);

ALTER TABLE ONLY public.inbound_journal ALTER COLUMN id SET DEFAULT nextval('public.inbound_journal_id_seq'::regclass);

ALTER TABLE ONLY public.kept_figures ALTER COLUMN id SET DEFAULT nextval('public.kept_figures_id_seq'::regclass);

ALTER TABLE ONLY public.lab_signups ALTER COLUMN id SET DEFAULT nextval('public.lab_signups_id_seq'::regclass);

ALTER TABLE ONLY public.memberships ALTER COLUMN id SET DEFAULT nextval('public.memberships_id_seq'::regclass);

ALTER TABLE ONLY public.organisations ALTER COLUMN id SET DEFAULT nextval('public.organisations_id_seq'::regclass);

ALTER TABLE ONLY public.people ALTER COLUMN id SET DEFAULT nextval('public.people_id_seq'::regclass);

ALTER TABLE ONLY public.processed_events ALTER COLUMN id SET DEFAULT nextval('public.processed_events_id_seq'::regclass);

ALTER TABLE ONLY public.quiz_answers ALTER COLUMN id SET DEFAULT nextval('public.quiz_answers_id_seq'::regclass);

ALTER TABLE ONLY public.reflection_task_choices ALTER COLUMN id SET DEFAULT nextval('public.reflection_task_choices_id_seq'::regclass);

ALTER TABLE ONLY public.reflections ALTER COLUMN id SET DEFAULT nextval('public.reflections_id_seq'::regclass);

ALTER TABLE ONLY public.slack_bots ALTER COLUMN id SET DEFAULT nextval('public.slack_bots_id_seq'::regclass);

ALTER TABLE ONLY public.slack_installations ALTER COLUMN id SET DEFAULT nextval('public.slack_installations_id_seq'::regclass);

ALTER TABLE ONLY public.slack_oauth_states ALTER COLUMN id SET DEFAULT nextval('public.slack_oauth_states_id_seq'::regclass);

ALTER TABLE ONLY public.survey_answers ALTER COLUMN id SET DEFAULT nextval('public.survey_answers_id_seq'::regclass);

ALTER TABLE ONLY public.theme_posts ALTER COLUMN id SET DEFAULT nextval('public.theme_posts_id_seq'::regclass);

ALTER TABLE ONLY public.theme_runs ALTER COLUMN id SET DEFAULT nextval('public.theme_runs_id_seq'::regclass);

ALTER TABLE ONLY public.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);

ALTER TABLE ONLY public.attendance
    ADD CONSTRAINT pk_attendance PRIMARY KEY (id);

ALTER TABLE ONLY public.audit_log
    ADD CONSTRAINT pk_audit_log PRIMARY KEY (id);

ALTER TABLE ONLY public.buddy_groups
    ADD CONSTRAINT pk_buddy_groups PRIMARY KEY (id);

ALTER TABLE ONLY public.buddy_members
    ADD CONSTRAINT pk_buddy_members PRIMARY KEY (id);

ALTER TABLE ONLY public.buddy_rounds
    ADD CONSTRAINT pk_buddy_rounds PRIMARY KEY (id);

ALTER TABLE ONLY public.buddy_rules
    ADD CONSTRAINT pk_buddy_rules PRIMARY KEY (cohort_id, first_id, second_id);

ALTER TABLE ONLY public.calendar_entries
    ADD CONSTRAINT pk_calendar_entries PRIMARY KEY (id);

ALTER TABLE ONLY public.cohort_channels
    ADD CONSTRAINT pk_cohort_channels PRIMARY KEY (id);

ALTER TABLE ONLY public.cohorts
    ADD CONSTRAINT pk_cohorts PRIMARY KEY (id);

ALTER TABLE ONLY public.conversation_addresses
    ADD CONSTRAINT pk_conversation_addresses PRIMARY KEY (platform, workspace, conversation_id);

ALTER TABLE ONLY public.deliveries
    ADD CONSTRAINT pk_deliveries PRIMARY KEY (id);

ALTER TABLE ONLY public.delivery_outages
    ADD CONSTRAINT pk_delivery_outages PRIMARY KEY (cohort_id, step);

ALTER TABLE ONLY public.event_registrations
    ADD CONSTRAINT pk_event_registrations PRIMARY KEY (id);

ALTER TABLE ONLY public.gatherings
    ADD CONSTRAINT pk_gatherings PRIMARY KEY (cohort_id, entry_key);

ALTER TABLE ONLY public.inbound_failures
    ADD CONSTRAINT pk_inbound_failures PRIMARY KEY (id);

ALTER TABLE ONLY public.inbound_journal
    ADD CONSTRAINT pk_inbound_journal PRIMARY KEY (id);

ALTER TABLE ONLY public.kept_figures
    ADD CONSTRAINT pk_kept_figures PRIMARY KEY (id);

ALTER TABLE ONLY public.lab_seats
    ADD CONSTRAINT pk_lab_seats PRIMARY KEY (cohort_id, session_key);

ALTER TABLE ONLY public.lab_signups
    ADD CONSTRAINT pk_lab_signups PRIMARY KEY (id);

ALTER TABLE ONLY public.memberships
    ADD CONSTRAINT pk_memberships PRIMARY KEY (id);

ALTER TABLE ONLY public.offered_files
    ADD CONSTRAINT pk_offered_files PRIMARY KEY (id);

ALTER TABLE ONLY public.organisations
    ADD CONSTRAINT pk_organisations PRIMARY KEY (id);

ALTER TABLE ONLY public.people
    ADD CONSTRAINT pk_people PRIMARY KEY (id);

ALTER TABLE ONLY public.planned_steps
    ADD CONSTRAINT pk_planned_steps PRIMARY KEY (cohort_id, step);

ALTER TABLE ONLY public.processed_events
    ADD CONSTRAINT pk_processed_events PRIMARY KEY (id);

ALTER TABLE ONLY public.programs
    ADD CONSTRAINT pk_programs PRIMARY KEY (id);

ALTER TABLE ONLY public.quiz_answers
    ADD CONSTRAINT pk_quiz_answers PRIMARY KEY (id);

ALTER TABLE ONLY public.reflection_task_choices
    ADD CONSTRAINT pk_reflection_task_choices PRIMARY KEY (id);

ALTER TABLE ONLY public.reflections
    ADD CONSTRAINT pk_reflections PRIMARY KEY (id);

ALTER TABLE ONLY public.retention
    ADD CONSTRAINT pk_retention PRIMARY KEY (cohort_id);

ALTER TABLE ONLY public.slack_bots
    ADD CONSTRAINT pk_slack_bots PRIMARY KEY (id);

ALTER TABLE ONLY public.slack_installations
    ADD CONSTRAINT pk_slack_installations PRIMARY KEY (id);

ALTER TABLE ONLY public.slack_oauth_states
    ADD CONSTRAINT pk_slack_oauth_states PRIMARY KEY (id);

ALTER TABLE ONLY public.survey_answers
    ADD CONSTRAINT pk_survey_answers PRIMARY KEY (id);

ALTER TABLE ONLY public.survey_windows
    ADD CONSTRAINT pk_survey_windows PRIMARY KEY (cohort_id, survey_key);

ALTER TABLE ONLY public.theme_posts
    ADD CONSTRAINT pk_theme_posts PRIMARY KEY (id);

ALTER TABLE ONLY public.theme_runs
    ADD CONSTRAINT pk_theme_runs PRIMARY KEY (id);

ALTER TABLE ONLY public.attendance
    ADD CONSTRAINT uq_attendance_cohort_id_entry_key_person_id UNIQUE (cohort_id, entry_key, person_id);

ALTER TABLE ONLY public.buddy_members
    ADD CONSTRAINT uq_buddy_members_group_id_person_id UNIQUE (group_id, person_id);

ALTER TABLE ONLY public.buddy_rounds
    ADD CONSTRAINT uq_buddy_rounds_cohort_id_theme_number UNIQUE (cohort_id, theme_number);

ALTER TABLE ONLY public.calendar_entries
    ADD CONSTRAINT uq_calendar_entries_cohort_id_key UNIQUE (cohort_id, key);

ALTER TABLE ONLY public.cohort_channels
    ADD CONSTRAINT uq_cohort_channels_platform_workspace_conversation_id UNIQUE (platform, workspace, conversation_id);

ALTER TABLE ONLY public.cohorts
    ADD CONSTRAINT uq_cohorts_key UNIQUE (key);

ALTER TABLE ONLY public.cohorts
    ADD CONSTRAINT uq_cohorts_platform_workspace_conversation_id UNIQUE (platform, workspace, conversation_id);

ALTER TABLE ONLY public.deliveries
    ADD CONSTRAINT uq_deliveries_key UNIQUE (key);

ALTER TABLE ONLY public.event_registrations
    ADD CONSTRAINT uq_event_registrations_cohort_id_entry_key_person_id UNIQUE (cohort_id, entry_key, person_id);

ALTER TABLE ONLY public.inbound_journal
    ADD CONSTRAINT uq_inbound_journal_platform_event_id UNIQUE (platform, event_id);

ALTER TABLE ONLY public.kept_figures
    ADD CONSTRAINT uq_kept_figures_cohort_id_name UNIQUE (cohort_id, name);

ALTER TABLE ONLY public.lab_signups
    ADD CONSTRAINT uq_lab_signups_cohort_id_session_key_person_id UNIQUE (cohort_id, session_key, person_id);

ALTER TABLE ONLY public.memberships
    ADD CONSTRAINT uq_memberships_cohort_id_person_id UNIQUE (cohort_id, person_id);

ALTER TABLE ONLY public.organisations
    ADD CONSTRAINT uq_organisations_program_id_key UNIQUE (program_id, key);

ALTER TABLE ONLY public.people
    ADD CONSTRAINT uq_people_platform_workspace_user_id UNIQUE (platform, workspace, user_id);

ALTER TABLE ONLY public.processed_events
    ADD CONSTRAINT uq_processed_events_platform_delivery_id UNIQUE (platform, delivery_id);

ALTER TABLE ONLY public.quiz_answers
    ADD CONSTRAINT uq_quiz_answers_cohort_id_person_id_theme_number_question_index UNIQUE (cohort_id, person_id, theme_number, question_index);

ALTER TABLE ONLY public.reflection_task_choices
    ADD CONSTRAINT uq_reflection_task_choices_cohort_id_theme_number_person_id UNIQUE (cohort_id, theme_number, person_id);

ALTER TABLE ONLY public.reflections
    ADD CONSTRAINT uq_reflections_cohort_id_message_id UNIQUE (cohort_id, message_id);

ALTER TABLE ONLY public.survey_answers
    ADD CONSTRAINT uq_survey_answers_cohort_id_survey_key_person_id_question_id UNIQUE (cohort_id, survey_key, person_id, question_id);

ALTER TABLE ONLY public.theme_posts
    ADD CONSTRAINT uq_theme_posts_run_id_channel_id UNIQUE (run_id, channel_id);

ALTER TABLE ONLY public.theme_runs
    ADD CONSTRAINT uq_theme_runs_cohort_id_theme_number UNIQUE (cohort_id, theme_number);

CREATE INDEX ix_attendance_person_id ON public.attendance USING btree (person_id);

CREATE INDEX ix_audit_log_at ON public.audit_log USING btree (at);

CREATE INDEX ix_buddy_groups_round_id ON public.buddy_groups USING btree (round_id);

CREATE INDEX ix_buddy_members_person_id ON public.buddy_members USING btree (person_id);

CREATE INDEX ix_calendar_entries_starts_at ON public.calendar_entries USING btree (starts_at);

CREATE INDEX ix_cohort_channels_cohort_id ON public.cohort_channels USING btree (cohort_id);

CREATE INDEX ix_conversation_addresses_user_id ON public.conversation_addresses USING btree (user_id);

CREATE INDEX ix_deliveries_cohort_id_step ON public.deliveries USING btree (cohort_id, step);

CREATE INDEX ix_deliveries_person_id_sent_at ON public.deliveries USING btree (person_id, sent_at);

CREATE INDEX ix_deliveries_state_due_at ON public.deliveries USING btree (state, due_at);

CREATE INDEX ix_deliveries_state_priority_due_at ON public.deliveries USING btree (state, priority, due_at);

CREATE INDEX ix_event_registrations_person_id ON public.event_registrations USING btree (person_id);

CREATE INDEX ix_inbound_failures_cohort_id ON public.inbound_failures USING btree (cohort_id);

CREATE INDEX ix_inbound_failures_failed_at ON public.inbound_failures USING btree (failed_at);

CREATE INDEX ix_inbound_journal_due_at ON public.inbound_journal USING btree (due_at);

CREATE INDEX ix_lab_signups_cohort_id_session_key_state_created_at ON public.lab_signups USING btree (cohort_id, session_key, state, created_at);

CREATE INDEX ix_memberships_person_id ON public.memberships USING btree (person_id);

CREATE INDEX ix_offered_files_offered_at ON public.offered_files USING btree (offered_at);

CREATE INDEX ix_people_email ON public.people USING btree (email);

CREATE INDEX ix_processed_events_received_at ON public.processed_events USING btree (received_at);

CREATE INDEX ix_reflection_task_choices_partner_id ON public.reflection_task_choices USING btree (partner_id);

CREATE INDEX ix_reflection_task_choices_person_id ON public.reflection_task_choices USING btree (person_id);

CREATE INDEX ix_reflections_author_id ON public.reflections USING btree (author_id);

CREATE INDEX ix_reflections_cohort_id_created_at ON public.reflections USING btree (cohort_id, created_at);

CREATE INDEX ix_reflections_search_vector ON public.reflections USING gin (search_vector);

CREATE INDEX ix_survey_answers_person_id ON public.survey_answers USING btree (person_id);

CREATE INDEX ix_theme_posts_message_id ON public.theme_posts USING btree (message_id);

CREATE INDEX ix_theme_runs_cohort_id_post_message_id ON public.theme_runs USING btree (cohort_id, post_message_id);

CREATE INDEX slack_bots_idx ON public.slack_bots USING btree (client_id, enterprise_id, team_id, installed_at);

CREATE INDEX slack_installations_idx ON public.slack_installations USING btree (client_id, enterprise_id, team_id, user_id, installed_at);

CREATE TRIGGER audit_log_append_only BEFORE DELETE OR UPDATE ON public.audit_log FOR EACH ROW EXECUTE FUNCTION public.audit_log_refuse();

ALTER TABLE ONLY public.attendance
    ADD CONSTRAINT fk_attendance_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.attendance
    ADD CONSTRAINT fk_attendance_person_id_people FOREIGN KEY (person_id) REFERENCES public.people(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.buddy_groups
    ADD CONSTRAINT fk_buddy_groups_round_id_buddy_rounds FOREIGN KEY (round_id) REFERENCES public.buddy_rounds(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.buddy_members
    ADD CONSTRAINT fk_buddy_members_group_id_buddy_groups FOREIGN KEY (group_id) REFERENCES public.buddy_groups(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.buddy_members
    ADD CONSTRAINT fk_buddy_members_person_id_people FOREIGN KEY (person_id) REFERENCES public.people(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.buddy_rounds
    ADD CONSTRAINT fk_buddy_rounds_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.buddy_rules
    ADD CONSTRAINT fk_buddy_rules_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.buddy_rules
    ADD CONSTRAINT fk_buddy_rules_first_id_people FOREIGN KEY (first_id) REFERENCES public.people(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.buddy_rules
    ADD CONSTRAINT fk_buddy_rules_second_id_people FOREIGN KEY (second_id) REFERENCES public.people(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.calendar_entries
    ADD CONSTRAINT fk_calendar_entries_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.cohort_channels
    ADD CONSTRAINT fk_cohort_channels_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.cohorts
    ADD CONSTRAINT fk_cohorts_program_id_programs FOREIGN KEY (program_id) REFERENCES public.programs(id);

ALTER TABLE ONLY public.deliveries
    ADD CONSTRAINT fk_deliveries_about_person_id_people FOREIGN KEY (about_person_id) REFERENCES public.people(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.deliveries
    ADD CONSTRAINT fk_deliveries_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.deliveries
    ADD CONSTRAINT fk_deliveries_person_id_people FOREIGN KEY (person_id) REFERENCES public.people(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.delivery_outages
    ADD CONSTRAINT fk_delivery_outages_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.event_registrations
    ADD CONSTRAINT fk_event_registrations_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.event_registrations
    ADD CONSTRAINT fk_event_registrations_person_id_people FOREIGN KEY (person_id) REFERENCES public.people(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.gatherings
    ADD CONSTRAINT fk_gatherings_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.inbound_failures
    ADD CONSTRAINT fk_inbound_failures_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.kept_figures
    ADD CONSTRAINT fk_kept_figures_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.lab_seats
    ADD CONSTRAINT fk_lab_seats_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.lab_signups
    ADD CONSTRAINT fk_lab_signups_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.lab_signups
    ADD CONSTRAINT fk_lab_signups_person_id_people FOREIGN KEY (person_id) REFERENCES public.people(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.memberships
    ADD CONSTRAINT fk_memberships_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.memberships
    ADD CONSTRAINT fk_memberships_organisation_id_organisations FOREIGN KEY (organisation_id) REFERENCES public.organisations(id);

ALTER TABLE ONLY public.memberships
    ADD CONSTRAINT fk_memberships_person_id_people FOREIGN KEY (person_id) REFERENCES public.people(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.organisations
    ADD CONSTRAINT fk_organisations_program_id_programs FOREIGN KEY (program_id) REFERENCES public.programs(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.planned_steps
    ADD CONSTRAINT fk_planned_steps_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.quiz_answers
    ADD CONSTRAINT fk_quiz_answers_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.quiz_answers
    ADD CONSTRAINT fk_quiz_answers_person_id_people FOREIGN KEY (person_id) REFERENCES public.people(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.reflection_task_choices
    ADD CONSTRAINT fk_reflection_task_choices_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.reflection_task_choices
    ADD CONSTRAINT fk_reflection_task_choices_finding_id_reflections FOREIGN KEY (finding_id) REFERENCES public.reflections(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.reflection_task_choices
    ADD CONSTRAINT fk_reflection_task_choices_partner_id_people FOREIGN KEY (partner_id) REFERENCES public.people(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.reflection_task_choices
    ADD CONSTRAINT fk_reflection_task_choices_person_id_people FOREIGN KEY (person_id) REFERENCES public.people(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.reflections
    ADD CONSTRAINT fk_reflections_author_id_people FOREIGN KEY (author_id) REFERENCES public.people(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.reflections
    ADD CONSTRAINT fk_reflections_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.reflections
    ADD CONSTRAINT fk_reflections_organisation_id_organisations FOREIGN KEY (organisation_id) REFERENCES public.organisations(id);

ALTER TABLE ONLY public.reflections
    ADD CONSTRAINT fk_reflections_replied_to_person_id_people FOREIGN KEY (replied_to_person_id) REFERENCES public.people(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.reflections
    ADD CONSTRAINT fk_reflections_reply_to_id_reflections FOREIGN KEY (reply_to_id) REFERENCES public.reflections(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.retention
    ADD CONSTRAINT fk_retention_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.survey_answers
    ADD CONSTRAINT fk_survey_answers_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.survey_answers
    ADD CONSTRAINT fk_survey_answers_person_id_people FOREIGN KEY (person_id) REFERENCES public.people(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.survey_windows
    ADD CONSTRAINT fk_survey_windows_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.theme_posts
    ADD CONSTRAINT fk_theme_posts_channel_id_cohort_channels FOREIGN KEY (channel_id) REFERENCES public.cohort_channels(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.theme_posts
    ADD CONSTRAINT fk_theme_posts_run_id_theme_runs FOREIGN KEY (run_id) REFERENCES public.theme_runs(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.theme_runs
    ADD CONSTRAINT fk_theme_runs_cohort_id_cohorts FOREIGN KEY (cohort_id) REFERENCES public.cohorts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.theme_runs
    ADD CONSTRAINT fk_theme_runs_started_by_people FOREIGN KEY (started_by) REFERENCES public.people(id) ON DELETE SET NULL;
