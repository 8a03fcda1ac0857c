-- Digilog's schema at revision 0031, written by `make schema`; do not edit.

CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

CREATE TABLE attendance (
	id INTEGER NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	entry_key VARCHAR(60) NOT NULL, 
	person_id INTEGER NOT NULL, 
	present BOOLEAN NOT NULL, 
	by_self BOOLEAN NOT NULL, 
	marked_at DATETIME NOT NULL, 
	CONSTRAINT fk_attendance_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT fk_attendance_person_id_people FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE, 
	CONSTRAINT pk_attendance PRIMARY KEY (id), 
	CONSTRAINT uq_attendance_cohort_id_entry_key_person_id UNIQUE (cohort_id, entry_key, person_id)
);

CREATE TABLE "audit_log" (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
	at DATETIME NOT NULL, 
	action VARCHAR(40) NOT NULL, 
	cohort_id INTEGER, 
	actor_person_id INTEGER, 
	subject_person_id INTEGER, 
	detail JSON
);

CREATE TABLE buddy_groups (
	id INTEGER NOT NULL, 
	round_id INTEGER NOT NULL, 
	CONSTRAINT fk_buddy_groups_round_id_buddy_rounds FOREIGN KEY(round_id) REFERENCES buddy_rounds (id) ON DELETE CASCADE, 
	CONSTRAINT pk_buddy_groups PRIMARY KEY (id)
);

CREATE TABLE buddy_members (
	id INTEGER NOT NULL, 
	group_id INTEGER NOT NULL, 
	person_id INTEGER NOT NULL, 
	met_at DATETIME, 
	CONSTRAINT fk_buddy_members_group_id_buddy_groups FOREIGN KEY(group_id) REFERENCES buddy_groups (id) ON DELETE CASCADE, 
	CONSTRAINT fk_buddy_members_person_id_people FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE, 
	CONSTRAINT pk_buddy_members PRIMARY KEY (id), 
	CONSTRAINT uq_buddy_members_group_id_person_id UNIQUE (group_id, person_id)
);

CREATE TABLE buddy_rounds (
	id INTEGER NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	theme_number INTEGER NOT NULL, 
	seed INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT fk_buddy_rounds_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT pk_buddy_rounds PRIMARY KEY (id), 
	CONSTRAINT uq_buddy_rounds_cohort_id_theme_number UNIQUE (cohort_id, theme_number)
);

CREATE TABLE buddy_rules (
	cohort_id INTEGER NOT NULL, 
	first_id INTEGER NOT NULL, 
	second_id INTEGER NOT NULL, 
	pinned BOOLEAN NOT NULL, 
	CONSTRAINT fk_buddy_rules_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT fk_buddy_rules_first_id_people FOREIGN KEY(first_id) REFERENCES people (id) ON DELETE CASCADE, 
	CONSTRAINT fk_buddy_rules_second_id_people FOREIGN KEY(second_id) REFERENCES people (id) ON DELETE CASCADE, 
	CONSTRAINT pk_buddy_rules PRIMARY KEY (cohort_id, first_id, second_id)
);

CREATE TABLE calendar_entries (
	id INTEGER NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	"key" VARCHAR(60) NOT NULL, 
	kind VARCHAR(30) NOT NULL, 
	theme_number INTEGER, 
	starts_at DATETIME NOT NULL, 
	ends_at DATETIME, 
	place JSON, 
	link VARCHAR(500), title JSON, capacity INTEGER, organisation VARCHAR(64), host VARCHAR(200), 
	CONSTRAINT fk_calendar_entries_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT pk_calendar_entries PRIMARY KEY (id), 
	CONSTRAINT uq_calendar_entries_cohort_id_key UNIQUE (cohort_id, "key")
);

CREATE TABLE cohort_channels (
	id INTEGER NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	platform VARCHAR(20) NOT NULL, 
	workspace VARCHAR(100) NOT NULL, 
	conversation_id VARCHAR(200) NOT NULL, 
	CONSTRAINT fk_cohort_channels_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT pk_cohort_channels PRIMARY KEY (id), 
	CONSTRAINT uq_cohort_channels_platform_workspace_conversation_id UNIQUE (platform, workspace, conversation_id)
);

CREATE TABLE cohorts (
	id INTEGER NOT NULL, 
	"key" VARCHAR(64) NOT NULL, 
	program_id VARCHAR(64) NOT NULL, 
	title VARCHAR(200) NOT NULL, 
	platform VARCHAR(20) NOT NULL, 
	workspace VARCHAR(100) NOT NULL, 
	conversation_id VARCHAR(200) NOT NULL, 
	language VARCHAR(5) NOT NULL, 
	timezone VARCHAR(64) NOT NULL, 
	self_enrol BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, pseudonym_salt VARCHAR(64), 
	CONSTRAINT fk_cohorts_program_id_programs FOREIGN KEY(program_id) REFERENCES programs (id), 
	CONSTRAINT pk_cohorts PRIMARY KEY (id), 
	CONSTRAINT uq_cohorts_key UNIQUE ("key"), 
	CONSTRAINT uq_cohorts_platform_workspace_conversation_id UNIQUE (platform, workspace, conversation_id)
);

CREATE TABLE conversation_addresses (
	platform VARCHAR(20) NOT NULL, 
	workspace VARCHAR(100) NOT NULL, 
	conversation_id VARCHAR(300) NOT NULL, 
	address VARCHAR(500) NOT NULL, 
	bot_id VARCHAR(200) NOT NULL, 
	user_id VARCHAR(200), 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_conversation_addresses PRIMARY KEY (platform, workspace, conversation_id)
);

CREATE TABLE deliveries (
	id INTEGER NOT NULL, 
	"key" VARCHAR(200) NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	kind VARCHAR(30) NOT NULL, 
	theme_number INTEGER, 
	person_id INTEGER, 
	about_person_id INTEGER, 
	detail JSON, 
	due_at DATETIME NOT NULL, 
	relevant_until DATETIME, 
	state VARCHAR(20) NOT NULL, 
	attempts INTEGER NOT NULL, 
	lease_until DATETIME, 
	claimed_by VARCHAR(100), 
	maybe_sent BOOLEAN NOT NULL, 
	conversation_id VARCHAR(200), 
	message_id VARCHAR(200), 
	sent_at DATETIME, 
	reason TEXT, 
	created_at DATETIME NOT NULL, priority INTEGER DEFAULT '2' NOT NULL, step VARCHAR(200), trouble VARCHAR(30), trouble_since DATETIME, 
	CONSTRAINT fk_deliveries_about_person_id_people FOREIGN KEY(about_person_id) REFERENCES people (id) ON DELETE CASCADE, 
	CONSTRAINT fk_deliveries_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT fk_deliveries_person_id_people FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE, 
	CONSTRAINT pk_deliveries PRIMARY KEY (id), 
	CONSTRAINT uq_deliveries_key UNIQUE ("key")
);

CREATE TABLE delivery_outages (
	cohort_id INTEGER NOT NULL, 
	step VARCHAR(200) NOT NULL, 
	kind VARCHAR(30) NOT NULL, 
	trouble VARCHAR(30) NOT NULL, 
	since DATETIME NOT NULL, 
	noticed_at DATETIME NOT NULL, 
	recovered_at DATETIME, 
	CONSTRAINT fk_delivery_outages_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT pk_delivery_outages PRIMARY KEY (cohort_id, step)
);

CREATE TABLE event_registrations (
	id INTEGER NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	entry_key VARCHAR(60) NOT NULL, 
	person_id INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT fk_event_registrations_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT fk_event_registrations_person_id_people FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE, 
	CONSTRAINT pk_event_registrations PRIMARY KEY (id), 
	CONSTRAINT uq_event_registrations_cohort_id_entry_key_person_id UNIQUE (cohort_id, entry_key, person_id)
);

CREATE TABLE gatherings (
	cohort_id INTEGER NOT NULL, 
	entry_key VARCHAR(60) NOT NULL, 
	self_marking BOOLEAN NOT NULL, 
	capacity INTEGER, 
	taken INTEGER NOT NULL, 
	CONSTRAINT fk_gatherings_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT pk_gatherings PRIMARY KEY (cohort_id, entry_key)
);

CREATE TABLE inbound_failures (
	id INTEGER NOT NULL, 
	platform VARCHAR(20) NOT NULL, 
	workspace VARCHAR(100) NOT NULL, 
	user_id VARCHAR(100) NOT NULL, 
	conversation_id VARCHAR(300), 
	cohort_id INTEGER, 
	kind VARCHAR(30) NOT NULL, 
	what VARCHAR(200) NOT NULL, 
	reason TEXT NOT NULL, 
	attempts INTEGER NOT NULL, 
	told BOOLEAN NOT NULL, 
	received_at DATETIME NOT NULL, 
	failed_at DATETIME NOT NULL, 
	CONSTRAINT fk_inbound_failures_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT pk_inbound_failures PRIMARY KEY (id)
);

CREATE TABLE inbound_journal (
	id INTEGER NOT NULL, 
	platform VARCHAR(20) NOT NULL, 
	event_id VARCHAR(200), 
	kind VARCHAR(30) NOT NULL, 
	payload JSON NOT NULL, 
	due_at DATETIME NOT NULL, 
	lease_until DATETIME, 
	claimed_by VARCHAR(100), 
	attempts INTEGER NOT NULL, 
	handled BOOLEAN NOT NULL, 
	reason TEXT, 
	received_at DATETIME NOT NULL, 
	request_id VARCHAR(64), 
	CONSTRAINT pk_inbound_journal PRIMARY KEY (id), 
	CONSTRAINT uq_inbound_journal_platform_event_id UNIQUE (platform, event_id)
);

CREATE TABLE kept_figures (
	id INTEGER NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	name VARCHAR(100) NOT NULL, 
	title VARCHAR(200) NOT NULL, 
	content BLOB NOT NULL, 
	kept_at DATETIME NOT NULL, 
	CONSTRAINT fk_kept_figures_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT pk_kept_figures PRIMARY KEY (id), 
	CONSTRAINT uq_kept_figures_cohort_id_name UNIQUE (cohort_id, name)
);

CREATE TABLE lab_seats (
	cohort_id INTEGER NOT NULL, 
	session_key VARCHAR(120) NOT NULL, 
	capacity INTEGER NOT NULL, 
	taken INTEGER NOT NULL, 
	CONSTRAINT fk_lab_seats_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT pk_lab_seats PRIMARY KEY (cohort_id, session_key)
);

CREATE TABLE lab_signups (
	id INTEGER NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	session_key VARCHAR(120) NOT NULL, 
	person_id INTEGER NOT NULL, 
	state VARCHAR(20) NOT NULL, 
	created_at DATETIME NOT NULL, attended_at DATETIME, 
	CONSTRAINT fk_lab_signups_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT fk_lab_signups_person_id_people FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE, 
	CONSTRAINT pk_lab_signups PRIMARY KEY (id), 
	CONSTRAINT uq_lab_signups_cohort_id_session_key_person_id UNIQUE (cohort_id, session_key, person_id)
);

CREATE TABLE "memberships" (
	id INTEGER NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	person_id INTEGER NOT NULL, 
	organisation_id INTEGER NOT NULL, 
	role VARCHAR(20) NOT NULL, 
	joined_at DATETIME NOT NULL, 
	buddy_opt_out BOOLEAN DEFAULT 0 NOT NULL, 
	CONSTRAINT fk_memberships_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT fk_memberships_organisation_id_organisations FOREIGN KEY(organisation_id) REFERENCES organisations (id), 
	CONSTRAINT fk_memberships_person_id_people FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE, 
	CONSTRAINT pk_memberships PRIMARY KEY (id), 
	CONSTRAINT uq_memberships_cohort_id_person_id UNIQUE (cohort_id, person_id)
);

CREATE TABLE offered_files (
	id VARCHAR(32) NOT NULL, 
	workspace VARCHAR(100) NOT NULL, 
	user_id VARCHAR(100) NOT NULL, 
	filename VARCHAR(200) NOT NULL, 
	content BLOB NOT NULL, 
	offered_at DATETIME NOT NULL, 
	CONSTRAINT pk_offered_files PRIMARY KEY (id)
);

CREATE TABLE organisations (
	id INTEGER NOT NULL, 
	program_id VARCHAR(64) NOT NULL, 
	"key" VARCHAR(64) NOT NULL, 
	name JSON NOT NULL, 
	CONSTRAINT fk_organisations_program_id_programs FOREIGN KEY(program_id) REFERENCES programs (id) ON DELETE CASCADE, 
	CONSTRAINT pk_organisations PRIMARY KEY (id), 
	CONSTRAINT uq_organisations_program_id_key UNIQUE (program_id, "key")
);

CREATE TABLE "people" (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
	platform VARCHAR(20) NOT NULL, 
	workspace VARCHAR(100) NOT NULL, 
	user_id VARCHAR(100), 
	email VARCHAR(320), 
	display_name VARCHAR(200) NOT NULL, 
	language VARCHAR(5), 
	created_at DATETIME NOT NULL, 
	timezone VARCHAR(64), 
	working_hours VARCHAR(40), 
	nudges_snoozed_until DATETIME, 
	muted_nudges JSON, 
	nudges_paused_at DATETIME, 
	unreachable_since DATETIME, 
	CONSTRAINT uq_people_platform_workspace_user_id UNIQUE (platform, workspace, user_id)
);

CREATE TABLE planned_steps (
	cohort_id INTEGER NOT NULL, 
	step VARCHAR(200) NOT NULL, 
	mark VARCHAR(200) NOT NULL, 
	planned_at DATETIME NOT NULL, 
	CONSTRAINT fk_planned_steps_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT pk_planned_steps PRIMARY KEY (cohort_id, step)
);

CREATE TABLE processed_events (
	id INTEGER NOT NULL, 
	platform VARCHAR(20) NOT NULL, 
	delivery_id VARCHAR(200) NOT NULL, 
	received_at DATETIME NOT NULL, 
	CONSTRAINT pk_processed_events PRIMARY KEY (id), 
	CONSTRAINT uq_processed_events_platform_delivery_id UNIQUE (platform, delivery_id)
);

CREATE TABLE programs (
	id VARCHAR(64) NOT NULL, 
	title JSON NOT NULL, 
	definition JSON NOT NULL, 
	checksum VARCHAR(64) NOT NULL, 
	loaded_at DATETIME NOT NULL, 
	CONSTRAINT pk_programs PRIMARY KEY (id)
);

CREATE TABLE quiz_answers (
	id INTEGER NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	person_id INTEGER NOT NULL, 
	theme_number INTEGER NOT NULL, 
	question_index INTEGER NOT NULL, 
	option_index INTEGER NOT NULL, 
	correct BOOLEAN NOT NULL, 
	answered_at DATETIME NOT NULL, 
	CONSTRAINT fk_quiz_answers_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT fk_quiz_answers_person_id_people FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE, 
	CONSTRAINT pk_quiz_answers PRIMARY KEY (id), 
	CONSTRAINT uq_quiz_answers_cohort_id_person_id_theme_number_question_index UNIQUE (cohort_id, person_id, theme_number, question_index)
);

CREATE VIRTUAL TABLE reflection_search USING fts5(form, base, part, tokenize = "unicode61 remove_diacritics 0 tokenchars '-'");

CREATE TABLE reflection_task_choices (
	id INTEGER NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	theme_number INTEGER NOT NULL, 
	person_id INTEGER NOT NULL, 
	form VARCHAR(20) NOT NULL, 
	partner_id INTEGER, 
	partner_name VARCHAR(200), 
	chosen_at DATETIME NOT NULL, 
	done_at DATETIME, 
	finding_id INTEGER, 
	CONSTRAINT fk_reflection_task_choices_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT fk_reflection_task_choices_finding_id_reflections FOREIGN KEY(finding_id) REFERENCES reflections (id) ON DELETE SET NULL, 
	CONSTRAINT fk_reflection_task_choices_partner_id_people FOREIGN KEY(partner_id) REFERENCES people (id) ON DELETE SET NULL, 
	CONSTRAINT fk_reflection_task_choices_person_id_people FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE, 
	CONSTRAINT pk_reflection_task_choices PRIMARY KEY (id), 
	CONSTRAINT uq_reflection_task_choices_cohort_id_theme_number_person_id UNIQUE (cohort_id, theme_number, person_id)
);

CREATE TABLE "reflections" (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
	cohort_id INTEGER NOT NULL, 
	author_id INTEGER NOT NULL, 
	organisation_id INTEGER NOT NULL, 
	theme_number INTEGER, 
	source VARCHAR(20) NOT NULL, 
	visibility VARCHAR(20) NOT NULL, 
	body TEXT NOT NULL, 
	message_id VARCHAR(200), 
	reply_to_id INTEGER, 
	replied_to_person_id INTEGER, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	search_version INTEGER DEFAULT 0 NOT NULL, 
	CONSTRAINT fk_reflections_author_id_people FOREIGN KEY(author_id) REFERENCES people (id) ON DELETE CASCADE, 
	CONSTRAINT fk_reflections_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT fk_reflections_organisation_id_organisations FOREIGN KEY(organisation_id) REFERENCES organisations (id), 
	CONSTRAINT fk_reflections_replied_to_person_id_people FOREIGN KEY(replied_to_person_id) REFERENCES people (id) ON DELETE SET NULL, 
	CONSTRAINT fk_reflections_reply_to_id_reflections FOREIGN KEY(reply_to_id) REFERENCES reflections (id) ON DELETE SET NULL, 
	CONSTRAINT uq_reflections_cohort_id_message_id UNIQUE (cohort_id, message_id)
);

CREATE TABLE retention (
	cohort_id INTEGER NOT NULL, 
	ends_at DATETIME, 
	days INTEGER NOT NULL, 
	reflection_days INTEGER, 
	quiz_answer_days INTEGER, 
	noticed JSON, 
	deleted JSON, 
	CONSTRAINT fk_retention_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT pk_retention PRIMARY KEY (cohort_id)
);

CREATE TABLE "slack_bots" (
	id INTEGER NOT NULL, 
	client_id VARCHAR(32) NOT NULL, 
	app_id VARCHAR(32) NOT NULL, 
	enterprise_id VARCHAR(32), 
	enterprise_name VARCHAR(200), 
	team_id VARCHAR(32), 
	team_name VARCHAR(200), 
	bot_token VARCHAR(1000), 
	bot_id VARCHAR(32), 
	bot_user_id VARCHAR(32), 
	bot_scopes VARCHAR(1000), 
	bot_refresh_token VARCHAR(1000), 
	bot_token_expires_at DATETIME, 
	is_enterprise_install BOOLEAN NOT NULL, 
	installed_at DATETIME NOT NULL, 
	CONSTRAINT pk_slack_bots PRIMARY KEY (id)
);

CREATE TABLE "slack_installations" (
	id INTEGER NOT NULL, 
	client_id VARCHAR(32) NOT NULL, 
	app_id VARCHAR(32) NOT NULL, 
	enterprise_id VARCHAR(32), 
	enterprise_name VARCHAR(200), 
	enterprise_url VARCHAR(200), 
	team_id VARCHAR(32), 
	team_name VARCHAR(200), 
	bot_token VARCHAR(1000), 
	bot_id VARCHAR(32), 
	bot_user_id VARCHAR(32), 
	bot_scopes VARCHAR(1000), 
	bot_refresh_token VARCHAR(1000), 
	bot_token_expires_at DATETIME, 
	user_id VARCHAR(32) NOT NULL, 
	user_token VARCHAR(1000), 
	user_scopes VARCHAR(1000), 
	user_refresh_token VARCHAR(1000), 
	user_token_expires_at DATETIME, 
	incoming_webhook_url VARCHAR(1000), 
	incoming_webhook_channel VARCHAR(200), 
	incoming_webhook_channel_id VARCHAR(200), 
	incoming_webhook_configuration_url VARCHAR(200), 
	is_enterprise_install BOOLEAN NOT NULL, 
	token_type VARCHAR(32), 
	installed_at DATETIME NOT NULL, 
	CONSTRAINT pk_slack_installations PRIMARY KEY (id)
);

CREATE TABLE slack_oauth_states (
	id INTEGER NOT NULL, 
	state VARCHAR(200) NOT NULL, 
	expire_at DATETIME NOT NULL, 
	CONSTRAINT pk_slack_oauth_states PRIMARY KEY (id)
);

CREATE TABLE "survey_answers" (
	id INTEGER NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	survey_key VARCHAR(100) NOT NULL, 
	person_id INTEGER NOT NULL, 
	question_id VARCHAR(64) NOT NULL, 
	rating INTEGER, 
	text TEXT, 
	answered_at DATETIME NOT NULL, 
	CONSTRAINT fk_survey_answers_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT fk_survey_answers_person_id_people FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE, 
	CONSTRAINT pk_survey_answers PRIMARY KEY (id), 
	CONSTRAINT uq_survey_answers_cohort_id_survey_key_person_id_question_id UNIQUE (cohort_id, survey_key, person_id, question_id)
);

CREATE TABLE "survey_windows" (
	cohort_id INTEGER NOT NULL, 
	survey_key VARCHAR(100) NOT NULL, 
	opened_at DATETIME NOT NULL, 
	closed_at DATETIME, 
	CONSTRAINT fk_survey_windows_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT pk_survey_windows PRIMARY KEY (cohort_id, survey_key)
);

CREATE TABLE theme_posts (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	channel_id INTEGER NOT NULL, 
	message_id VARCHAR(200) NOT NULL, 
	CONSTRAINT fk_theme_posts_channel_id_cohort_channels FOREIGN KEY(channel_id) REFERENCES cohort_channels (id) ON DELETE CASCADE, 
	CONSTRAINT fk_theme_posts_run_id_theme_runs FOREIGN KEY(run_id) REFERENCES theme_runs (id) ON DELETE CASCADE, 
	CONSTRAINT pk_theme_posts PRIMARY KEY (id), 
	CONSTRAINT uq_theme_posts_run_id_channel_id UNIQUE (run_id, channel_id)
);

CREATE TABLE theme_runs (
	id INTEGER NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	theme_number INTEGER NOT NULL, 
	started_at DATETIME NOT NULL, 
	started_by INTEGER, 
	forced BOOLEAN NOT NULL, 
	post_message_id VARCHAR(200), 
	digilog_closed_at DATETIME, 
	quiz_opened_at DATETIME, 
	quiz_closed_at DATETIME, 
	CONSTRAINT fk_theme_runs_cohort_id_cohorts FOREIGN KEY(cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE, 
	CONSTRAINT fk_theme_runs_started_by_people FOREIGN KEY(started_by) REFERENCES people (id) ON DELETE SET NULL, 
	CONSTRAINT pk_theme_runs PRIMARY KEY (id), 
	CONSTRAINT uq_theme_runs_cohort_id_theme_number UNIQUE (cohort_id, theme_number)
);

CREATE INDEX ix_attendance_person_id ON attendance (person_id);

CREATE INDEX ix_audit_log_at ON audit_log (at);

CREATE INDEX ix_buddy_groups_round_id ON buddy_groups (round_id);

CREATE INDEX ix_buddy_members_person_id ON buddy_members (person_id);

CREATE INDEX ix_calendar_entries_starts_at ON calendar_entries (starts_at);

CREATE INDEX ix_cohort_channels_cohort_id ON cohort_channels (cohort_id);

CREATE INDEX ix_conversation_addresses_user_id ON conversation_addresses (user_id);

CREATE INDEX ix_deliveries_cohort_id_step ON deliveries (cohort_id, step);

CREATE INDEX ix_deliveries_person_id_sent_at ON deliveries (person_id, sent_at);

CREATE INDEX ix_deliveries_state_due_at ON deliveries (state, due_at);

CREATE INDEX ix_deliveries_state_priority_due_at ON deliveries (state, priority, due_at);

CREATE INDEX ix_event_registrations_person_id ON event_registrations (person_id);

CREATE INDEX ix_inbound_failures_cohort_id ON inbound_failures (cohort_id);

CREATE INDEX ix_inbound_failures_failed_at ON inbound_failures (failed_at);

CREATE INDEX ix_inbound_journal_due_at ON inbound_journal (due_at);

CREATE INDEX ix_lab_signups_cohort_id_session_key_state_created_at ON lab_signups (cohort_id, session_key, state, created_at);

CREATE INDEX ix_memberships_person_id ON memberships (person_id);

CREATE INDEX ix_offered_files_offered_at ON offered_files (offered_at);

CREATE INDEX ix_people_email ON people (email);

CREATE INDEX ix_processed_events_received_at ON processed_events (received_at);

CREATE INDEX ix_reflection_task_choices_partner_id ON reflection_task_choices (partner_id);

CREATE INDEX ix_reflection_task_choices_person_id ON reflection_task_choices (person_id);

CREATE INDEX ix_reflections_author_id ON reflections (author_id);

CREATE INDEX ix_reflections_cohort_id_created_at ON reflections (cohort_id, created_at);

CREATE INDEX ix_survey_answers_person_id ON survey_answers (person_id);

CREATE INDEX ix_theme_posts_message_id ON theme_posts (message_id);

CREATE INDEX ix_theme_runs_cohort_id_post_message_id ON theme_runs (cohort_id, post_message_id);

CREATE INDEX slack_bots_idx ON slack_bots (client_id, enterprise_id, team_id, installed_at);

CREATE INDEX slack_installations_idx ON slack_installations (client_id, enterprise_id, team_id, user_id, installed_at);

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

