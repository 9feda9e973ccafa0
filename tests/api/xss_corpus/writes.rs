//! Planting: each payload written into every field by its person and the
//! board, through the API or the page where a field has no API.

use super::*;

/// The profile has no API: it is set on its page, all at once, or field by
/// field when refused so that each refusal is put down to its field.
pub(super) async fn profile(ctx: &Ctx, w: &World) {
    let i = w.i;
    let post = |name: String, organisation: String, job_title: String| {
        form(&[
            ("display_name", name),
            ("respondent_type", "supplier".to_owned()),
            ("organisation", organisation),
            ("ods_code", String::new()),
            ("job_title", job_title),
        ])
    };
    let all = ctx
        .send(
            Method::POST,
            "/profile",
            Some(&w.token),
            post(text("dn", i), text("og", i), text("jt", i)),
        )
        .await;
    if all.status == 303 {
        for code in ["dn", "og", "jt"] {
            ctx.accept(code, i);
        }
        return;
    }
    assert_eq!(all.status, 422, "profile: {}", all.body);
    let mut kept = [plain("dn", i), String::new(), String::new()];
    for (n, code) in ["dn", "og", "jt"].into_iter().enumerate() {
        let mut trying = kept.clone();
        trying[n] = text(code, i);
        let [name, organisation, job_title] = trying.clone();
        let answer = ctx
            .send(
                Method::POST,
                "/profile",
                Some(&w.token),
                post(name, organisation, job_title),
            )
            .await;
        if answer.status == 303 {
            ctx.accept(code, i);
            kept = trying;
        } else {
            assert_eq!(answer.status, 422, "profile: {}", answer.body);
            ctx.refuse(code, i, "the profile page refused it");
        }
    }
    let [name, organisation, job_title] = kept;
    let answer = ctx
        .send(
            Method::POST,
            "/profile",
            Some(&w.token),
            post(name, organisation, job_title),
        )
        .await;
    assert_eq!(answer.status, 303, "profile: {}", answer.body);
}

/// Everything payload `i` goes into: written by its person and the board.
pub(super) async fn plant(ctx: Arc<Ctx>, mut w: World) -> World {
    let i = w.i;
    let board = ctx.board.clone();
    profile(&ctx, &w).await;
    ctx.submit(
        Method::POST,
        "/api/v1/tokens",
        &w.token,
        json!({}),
        &[("name", "tk")],
        i,
    )
    .await;

    // A theme from the board, and the person's idea in it.
    let theme = ctx
        .submit(
            Method::POST,
            "/api/v1/themes",
            &board,
            json!({}),
            &[("name", "th")],
            i,
        )
        .await;
    w.theme = theme["slug"].as_str().expect("slug").to_owned();
    let idea = ctx
        .submit(
            Method::POST,
            "/api/v1/ideas",
            &w.token,
            json!({ "themes": [w.theme], "beneficiaries": ["patients"] }),
            &[
                ("title", "it"),
                ("description", "id"),
                ("expected_impact", "ie"),
            ],
            i,
        )
        .await;
    w.idea = id_of(&idea);
    let comments = format!("/api/v1/ideas/{}/comments", w.idea);
    let comment = ctx
        .submit(
            Method::POST,
            &comments,
            &w.token,
            json!({}),
            &[("body", "cm")],
            i,
        )
        .await;
    w.comment = id_of(&comment);
    // A second comment, edited, then hidden by the board.
    let second = ctx
        .json(
            Method::POST,
            &comments,
            &w.token,
            json!({ "body": "A first thought" }),
        )
        .await;
    assert_eq!(second.status, 201, "{}", second.body);
    w.hidden_comment = id_of(&second.json());
    ctx.submit(
        Method::PATCH,
        &format!("/api/v1/comments/{}", w.hidden_comment),
        &w.token,
        json!({}),
        &[("body", "ce")],
        i,
    )
    .await;
    ctx.submit(
        Method::POST,
        &format!("/api/v1/comments/{}/hide", w.hidden_comment),
        &board,
        json!({}),
        &[("reason", "hr")],
        i,
    )
    .await;
    // Shortlisted, so that it is in the report to government.
    ctx.submit(
        Method::POST,
        &format!("/api/v1/ideas/{}/status", w.idea),
        &board,
        json!({ "status": "shortlisted" }),
        &[("note", "sn")],
        i,
    )
    .await;
    let item = format!("/api/v1/inbox/idea/{}", w.idea);
    for (visibility, code) in [("internal", "ni"), ("reply", "nr")] {
        ctx.submit(
            Method::POST,
            &format!("{item}/notes"),
            &board,
            json!({ "visibility": visibility }),
            &[("body", code)],
            i,
        )
        .await;
    }
    ctx.submit(
        Method::POST,
        &format!("{item}/tags"),
        &board,
        json!({}),
        &[("tag", "tg")],
        i,
    )
    .await;

    // The person's critical report, at the organisation imported with this
    // payload as its name.
    let report = ctx
        .submit(
            Method::POST,
            "/api/v1/reports",
            &w.token,
            json!({
                "organisation": ods(i),
                "category": "outage",
                "severity": "critical",
                "confidential": false
            }),
            &[
                ("system_name", "rs"),
                ("supplier_name", "rp"),
                ("standard_reference", "rr"),
                ("patient_impact", "ri"),
                ("staff_impact", "rf"),
                ("evidence", "re"),
            ],
            i,
        )
        .await;
    w.report = id_of(&report);
    ctx.submit(
        Method::POST,
        &format!("/api/v1/reports/{}/status", w.report),
        &board,
        json!({ "status": "triaged" }),
        &[("note", "rn")],
        i,
    )
    .await;
    let links = format!("{item}/links");
    let linked = ctx
        .json(
            Method::POST,
            &links,
            &board,
            json!({ "kind": "report", "id": w.report }),
        )
        .await;
    assert_eq!(linked.status, 201, "{}", linked.body);

    // The consultation: the board writes it, the person responds, the
    // board publishes a new version, closes it, decides on the comment,
    // redacts the answer and publishes the outcome.
    w.slug = format!("xss-{i:02}");
    let document = format!(
        "# Scope\n\n{}\n\n# {}\n\nThe second section.",
        text("cd", i),
        text("ch", i)
    );
    let details = json!({
        "slug": w.slug,
        "audience": ["everyone"],
        "opens_at": at(chrono::Duration::hours(-1)),
        "closes_at": at(chrono::Duration::days(1)),
        "document": document
    });
    let created = ctx
        .submit(
            Method::POST,
            "/api/v1/consultations",
            &board,
            details.clone(),
            &[("title", "ct"), ("summary", "cs")],
            i,
        )
        .await;
    w.consultation_id = id_of(&created);
    // The document went in whole, with both of its payloads.
    ctx.accept("cd", i);
    ctx.accept("ch", i);
    let consultation = format!("/api/v1/consultations/{}", w.slug);
    let free = ctx
        .submit(
            Method::POST,
            &format!("{consultation}/questions"),
            &board,
            json!({ "kind": "free_text", "required": true }),
            &[("prompt", "qp"), ("help_text", "qh")],
            i,
        )
        .await;
    w.free_question = id_of(&free);
    let mut option = text("qo", i);
    let choice = loop {
        let answer = ctx
            .json(
                Method::POST,
                &format!("{consultation}/questions"),
                &board,
                json!({ "kind": "single_choice", "prompt": "Do you support it?", "options": [option, "No"] }),
            )
            .await;
        if answer.status == 201 {
            break answer.json();
        }
        assert_eq!(answer.status, 422, "{}", answer.body);
        ctx.refuse("qo", i, &answer.body);
        option = plain("qo", i);
    };
    if option == text("qo", i) {
        ctx.accept("qo", i);
    }
    w.choice_question = id_of(&choice);
    let chosen = choice["options"][0].as_str().expect("an option").to_owned();
    let published = ctx
        .json(
            Method::POST,
            &format!("{consultation}/publish"),
            &board,
            json!({}),
        )
        .await;
    assert_eq!(published.status, 200, "{}", published.body);

    let mut answers = serde_json::Map::new();
    answers.insert(w.free_question.clone(), json!([text("an", i)]));
    answers.insert(w.choice_question.clone(), json!([chosen]));
    ctx.submit(
        Method::PUT,
        &format!("{consultation}/response"),
        &w.token,
        json!({
            "capacity": "organisation",
            "interests": "yes",
            "consent": "named",
            "answers": answers,
            "comments": { "scope": text("sc", i) }
        }),
        &[
            ("organisation_name", "on"),
            ("products_affected", "pa"),
            ("commercial_interest", "ci"),
        ],
        i,
    )
    .await;
    // The answer and the comment went in with the rest.
    ctx.accept("an", i);
    ctx.accept("sc", i);
    let submitted = ctx
        .send(
            Method::POST,
            &format!("{consultation}/response/submit"),
            Some(&w.token),
            Body::None,
        )
        .await;
    assert_eq!(submitted.status, 200, "{}", submitted.body);

    // A link to the section headed by the payload.
    let detail: Value = ctx.get(&consultation, Some(&board)).await.json();
    let anchor = detail["sections"][1]["anchor"]
        .as_str()
        .expect("the second section's anchor");
    let to_section = ctx
        .json(
            Method::POST,
            &links,
            &board,
            json!({ "kind": "consultation_section", "id": w.consultation_id, "anchor": anchor }),
        )
        .await;
    assert_eq!(to_section.status, 201, "{}", to_section.body);

    let document_v2 = format!("{document}\n\nA line added in the second version.");
    ctx.submit(
        Method::POST,
        &format!("{consultation}/versions"),
        &board,
        json!({ "document": document_v2 }),
        &[("change_summary", "vs")],
        i,
    )
    .await;
    let mut closing = details;
    closing["title"] = json!(ctx.stored("ct", i));
    closing["summary"] = json!(ctx.stored("cs", i));
    closing["document"] = json!(document_v2);
    closing["closes_at"] = json!(at(chrono::Duration::minutes(-1)));
    let closed = ctx.json(Method::PUT, &consultation, &board, closing).await;
    assert_eq!(closed.status, 200, "closed: {}", closed.body);

    let responses: Value = ctx
        .get(&format!("{consultation}/responses"), Some(&board))
        .await
        .json();
    let listed = &responses["items"][0];
    w.response = id_of(listed);
    w.section_comment = id_of(&listed["comments"][0]);
    ctx.submit(
        Method::PUT,
        &format!("{consultation}/comments/{}/disposition", w.section_comment),
        &board,
        json!({ "disposition": "accepted" }),
        &[("rationale", "ra")],
        i,
    )
    .await;
    let mut published_answers = serde_json::Map::new();
    published_answers.insert(w.free_question.clone(), json!(text("rd", i)));
    let redacted = ctx
        .json(
            Method::PUT,
            &format!("{consultation}/responses/{}/redaction", w.response),
            &board,
            json!({ "reason": text("rx", i), "answers": published_answers }),
        )
        .await;
    if redacted.status == 200 {
        ctx.accept("rx", i);
        ctx.accept("rd", i);
    } else {
        assert_eq!(redacted.status, 422, "{}", redacted.body);
        ctx.refuse("rx", i, &redacted.body);
        ctx.refuse("rd", i, &redacted.body);
    }
    ctx.submit(
        Method::POST,
        &format!("{consultation}/outcome"),
        &board,
        json!({}),
        &[("summary", "os")],
        i,
    )
    .await;
    w
}
