//! The tables both migration sets (`migrations/sqlite`, `migrations/postgres`) must produce.
//! Written by hand, checked by `tests/api/schema.rs` against both backends.

diesel::table! {
    teams (id) {
        id -> Text,
        name -> Text,
        cost_centre -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        default_cost_currency -> Nullable<Text>,
        default_cost_minor_per_hour -> Nullable<BigInt>,
    }
}

diesel::table! {
    cost_settings (id) {
        id -> Text,
        interruption_overhead_minutes -> Text,
        default_cost_currency -> Nullable<Text>,
        default_cost_minor_per_hour -> Nullable<BigInt>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    people (id) {
        id -> Text,
        name -> Text,
        email -> Text,
        payroll_id -> Text,
        team_id -> Nullable<Text>,
        timezone -> Text,
        currency -> Text,
        loaded_cost_minor_per_hour -> Nullable<BigInt>,
        working_hours -> Text,
        holiday_calendar -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    services (id) {
        id -> Text,
        name -> Text,
        team_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    shifts (id) {
        id -> Text,
        person_id -> Text,
        role -> Text,
        schedule -> Nullable<Text>,
        start_at -> Timestamp,
        end_at -> Timestamp,
        source -> Text,
        external_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    pages (id) {
        id -> Text,
        source -> Text,
        external_id -> Text,
        service_key -> Text,
        title -> Nullable<Text>,
        alert_key -> Nullable<Text>,
        lane -> Text,
        triggered_at -> Timestamp,
        acknowledged_at -> Nullable<Timestamp>,
        acknowledged_by -> Nullable<Text>,
        resolved_at -> Nullable<Timestamp>,
        described_at -> Timestamp,
        delivery_count -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        first_delivery -> Nullable<Text>,
    }
}

diesel::table! {
    page_deliveries (id) {
        id -> Text,
        page_id -> Text,
        received_at -> Timestamp,
        payload -> Text,
    }
}

diesel::table! {
    responses (id) {
        id -> Text,
        page_id -> Text,
        person_id -> Text,
        started_at -> Timestamp,
        ended_at -> Timestamp,
        notes -> Nullable<Text>,
        actionable -> Bool,
        created_at -> Timestamp,
        status -> Text,
        paid -> Bool,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        decision_reason -> Nullable<Text>,
        supersedes -> Nullable<Text>,
    }
}

diesel::joinable!(people -> teams (team_id));
diesel::joinable!(services -> teams (team_id));
diesel::joinable!(shifts -> people (person_id));
diesel::joinable!(page_deliveries -> pages (page_id));
diesel::joinable!(responses -> pages (page_id));
diesel::joinable!(responses -> people (person_id));

diesel::allow_tables_to_appear_in_same_query!(teams, people, services, shifts, pages, page_deliveries, responses,);

diesel::table! {
    pay_policies (id, version) {
        id -> Text,
        version -> Integer,
        effective_from -> Date,
        currency -> Text,
        document -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    policy_assignments (person_id, effective_from) {
        person_id -> Text,
        policy_id -> Text,
        effective_from -> Date,
        created_at -> Timestamp,
    }
}

diesel::table! {
    person_versions (person_id, effective_from) {
        person_id -> Text,
        effective_from -> Date,
        timezone -> Text,
        working_hours -> Text,
        holiday_calendar -> Nullable<Text>,
        team_id -> Nullable<Text>,
        cost_centre -> Nullable<Text>,
        loaded_cost_minor_per_hour -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(person_versions -> people (person_id));
diesel::allow_tables_to_appear_in_same_query!(person_versions, people);
diesel::allow_tables_to_appear_in_same_query!(person_versions, teams);

diesel::joinable!(policy_assignments -> people (person_id));
diesel::allow_tables_to_appear_in_same_query!(pay_policies, policy_assignments, people);

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    pay_periods (id) {
        id -> Text,
        starts_on -> Date,
        ends_on -> Date,
        status -> Text,
        closed_at -> Nullable<Timestamp>,
        closed_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    accrual_runs (id) {
        id -> Text,
        actor -> Text,
        started_at -> Timestamp,
        entries_posted -> Integer,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> Text,
        accrual_run_id -> Text,
        person_id -> Text,
        period_id -> Text,
        natural_period_id -> Text,
        entry_kind -> Text,
        line_key -> Text,
        revision -> Integer,
        reverses_entry_id -> Nullable<Text>,
        terms -> Text,
        component -> Text,
        quantity -> Text,
        unit -> Text,
        unit_rate -> Text,
        multiplier -> Text,
        time_class -> Nullable<Text>,
        day_class -> Nullable<Text>,
        amount_minor -> BigInt,
        currency -> Text,
        fact_kind -> Text,
        fact_id -> Text,
        page_id -> Nullable<Text>,
        policy_id -> Text,
        policy_version -> Integer,
        occurred_at -> Timestamp,
        explanation -> Text,
        posted_at -> Timestamp,
        posted_by -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(ledger_entries, pay_periods, people, accrual_runs);

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        entity -> Text,
        entity_id -> Text,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        person_id -> Nullable<Text>,
        teams -> Nullable<Text>,
        secret_sha256 -> Text,
        created_at -> Timestamp,
        created_by -> Text,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    identity_mappings (kind, external) {
        kind -> Text,
        external -> Text,
        target -> Text,
        created_at -> Timestamp,
        created_by -> Text,
    }
}
diesel::allow_tables_to_appear_in_same_query!(identity_mappings, pages);
diesel::allow_tables_to_appear_in_same_query!(ledger_entries, pages);
diesel::allow_tables_to_appear_in_same_query!(ledger_entries, responses);
diesel::joinable!(ledger_entries -> people (person_id));

diesel::table! {
    rollup_dirty (seq) {
        seq -> BigInt,
        day -> BigInt,
        claimed -> Bool,
    }
}

diesel::table! {
    rollup_state (id) {
        id -> Text,
        fingerprint -> Text,
    }
}

diesel::table! {
    rollup_debt (day, month, service, currency) {
        day -> BigInt,
        month -> Text,
        team -> Nullable<Text>,
        service -> Text,
        alert_key -> Nullable<Text>,
        currency -> Text,
        pages -> BigInt,
        night_pages -> BigInt,
        out_of_hours_pages -> BigInt,
        non_actionable_pages -> BigInt,
        answered_pages -> BigInt,
        paid_minor -> BigInt,
        responder_time_minor -> BigInt,
        interruption_overhead_minor -> BigInt,
        recovery_minor -> BigInt,
        paid_scale -> BigInt,
        responder_time_scale -> BigInt,
        interruption_overhead_scale -> BigInt,
        recovery_scale -> BigInt,
    }
}

diesel::table! {
    rollup_pages (day, service) {
        day -> BigInt,
        team -> Nullable<Text>,
        service -> Text,
        alert_key -> Nullable<Text>,
        pages -> BigInt,
        answered_pages -> BigInt,
        non_actionable_pages -> BigInt,
    }
}

diesel::table! {
    rollup_people (day, person) {
        day -> BigInt,
        person -> Text,
        pages -> BigInt,
        out_of_hours_pages -> BigInt,
        night_pages -> BigInt,
    }
}

diesel::table! {
    rollup_bad_nights (day, person, night) {
        day -> BigInt,
        person -> Text,
        night -> Text,
    }
}

diesel::table! {
    rollup_missing_rates (day, person) {
        day -> BigInt,
        team -> Nullable<Text>,
        person -> Text,
    }
}

diesel::table! {
    rollup_response_times (day, dimension, key) {
        day -> BigInt,
        dimension -> Text,
        key -> Text,
        ack -> Binary,
        resolve -> Binary,
    }
}

diesel::table! {
    rollup_dirty_months (month) {
        month -> Text,
    }
}

diesel::table! {
    rollup_day_versions (day) {
        day -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    pay_journal (seq) {
        seq -> BigInt,
        person_id -> Text,
        from_at -> Timestamp,
        recorded_at -> Timestamp,
        problem -> Nullable<Text>,
    }
}

diesel::table! {
    sync_cursors (source, resource) {
        source -> Text,
        resource -> Text,
        position -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    pay_run_steps (id) {
        id -> Text,
        period_id -> Text,
        step -> Text,
        actor -> Text,
        token_id -> Nullable<Text>,
        person_id -> Nullable<Text>,
        reason -> Text,
        entries -> BigInt,
        at -> Timestamp,
    }
}

diesel::table! {
    exchange_rates (id) {
        id -> Text,
        currency -> Text,
        to_currency -> Text,
        rate -> Text,
        effective_from -> Date,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    adjustments (id) {
        id -> Text,
        entry_id -> Text,
        person_id -> Text,
        period_id -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        earning_code -> Nullable<Text>,
        reason -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    reporting_settings (id) {
        id -> Text,
        reporting_currency -> Text,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    payroll_exports (id) {
        id -> Text,
        period_id -> Text,
        layout -> Text,
        format -> Text,
        entry_count -> BigInt,
        entries_sha256 -> Text,
        exported_by -> Text,
        exported_at -> Timestamp,
    }
}

diesel::table! {
    payroll_export_entries (export_id, entry_id) {
        export_id -> Text,
        entry_id -> Text,
    }
}
