//! Conversations with real workspaces of the corpus (`../shared/corpus/watson`), written by
//! reading each workspace's JSON and working out, by Watson's documented dialog semantics,
//! the `nodes_visited` and output text of every turn. Intents and entities are given with
//! each turn (Watson's v1 API allows it), so no NLU is involved. Where Watson does not
//! document a behaviour, the test says which reading it takes (see `docs/watson.md`,
//! "Conversation semantics").

mod common;

use fluxo::watson::Workspace;
use serde_json::{json, Value};

const NOW: &str = "2026-11-23T14:00:00-03:00";

/// The workspace `file` of the corpus, or `None` (with a visible SKIPPED) when the corpus is
/// not beside the project.
fn load(file: &str) -> Option<Workspace> {
    let shared = common::shared()?;
    let text = std::fs::read_to_string(shared.join("corpus/watson").join(file)).expect("read");
    Some(Workspace::from_json(&text).expect("workspace"))
}

/// A conversation: each `say` is one `/message` turn whose context is the last answer's.
struct Chat<'w> {
    ws: &'w Workspace,
    context: Value,
}

impl<'w> Chat<'w> {
    fn new(ws: &'w Workspace) -> Chat<'w> {
        Chat {
            ws,
            context: json!({ "conversation_id": "conv-1" }),
        }
    }

    /// One turn with `text`, the intents `intents` (top first) and the entities `entities`
    /// (`(entity, value)`, located on the value's first occurrence in the text, or on the
    /// whole text).
    fn say(&mut self, text: &str, intents: &[&str], entities: &[(&str, &str)]) -> Value {
        let intents: Vec<Value> = intents
            .iter()
            .map(|i| json!({ "intent": i, "confidence": 0.95 }))
            .collect();
        let entities: Vec<Value> = entities
            .iter()
            .map(|(e, v)| {
                let (from, to) = match text.find(v) {
                    Some(p) => (p, p + v.len()),
                    None => (0, text.len()),
                };
                json!({ "entity": e, "value": v, "location": [from, to], "confidence": 1.0 })
            })
            .collect();
        let req = json!({ "input": { "text": text }, "context": self.context,
            "intents": intents, "entities": entities });
        let r = self.ws.message(&req, NOW);
        self.context = r["context"].clone();
        r
    }

    /// The node the dialog waits at.
    fn waits_at(&self) -> Value {
        self.context["system"]["dialog_stack"]
            .as_array()
            .and_then(|s| s.last())
            .map(|t| t["dialog_node"].clone())
            .unwrap_or(Value::Null)
    }
}

fn texts(r: &Value) -> Vec<String> {
    r["output"]["text"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect()
}

fn visited(r: &Value) -> Vec<String> {
    r["output"]["nodes_visited"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect()
}

/// Asserts one turn's `nodes_visited` and text, and that nothing was logged.
#[track_caller]
fn check(r: &Value, nodes: &[&str], text: &[&str]) {
    assert_eq!(visited(r), nodes, "nodes_visited of {r:#}");
    assert_eq!(texts(r), text, "output.text of {r:#}");
    assert_eq!(r["output"]["log_messages"], json!([]), "log_messages");
}

const PIZZA_HANDLERS: &str =
    "watson-developer-cloud__community__watson-assistant_pizza-handlers.json";
const SIZE_PROMPT: &str = "What size of pizza do you want?";

/// `pizza-handlers`: slots (frame "Pizza ordering" with three slots, focus prompts, `input`
/// handlers filling from entities, a `nomatch` response), generic frame handlers
/// (`#help` prompts again, `#reset` clears the slot variables, `#exit` fills them all so the
/// frame finishes), the legacy `go_to` with selector `body` from the frame to its child
/// `node_15…`, whose conditional responses (MCR) read `$pizza_confirmed:yes` / `:no` and
/// null the variables; `$var` shorthand in a prompt.
///
/// Readings taken where Watson is undocumented: a frame's `nodes_visited` lists the frame
/// when it is entered, then each slot as it is filled or prompted, then the handlers that
/// answered (`nomatch`, generic); a slot's `focus` handler is not listed; conditional
/// responses are not listed, their parent is.
#[test]
fn pizza_handlers_slots_handlers_and_goto() {
    let Some(ws) = load(PIZZA_HANDLERS) else {
        return;
    };
    let mut chat = Chat::new(&ws);
    let r = chat.say("", &[], &[]);
    check(&r, &["Welcome"], &["Welcome to Pizza Handlers. You can order a pizza out of few selected types and sizes. You can ask for help and also to  reset or exit the form."]);

    let r = chat.say("I want a pizza", &["order"], &[]);
    check(
        &r,
        &["Pizza ordering", "slot_3_1494421237824"],
        &[SIZE_PROMPT],
    );
    assert_eq!(chat.waits_at(), "Pizza ordering");

    // A generic handler answers, then the slot in focus is prompted again.
    let r = chat.say("help", &["help"], &[]);
    check(
        &r,
        &["handler_1_1497353655893", "slot_3_1494421237824"],
        &[
            "Please provide pizza size and type, e.g. Large pizza Margherita",
            SIZE_PROMPT,
        ],
    );

    // Any slot can be filled by one input: size and type together, then the third slot's
    // prompt reads both (`$pizza_size  $pizza_type`, two spaces as written).
    let r = chat.say(
        "large pepperoni",
        &[],
        &[("pizza_size", "large"), ("pizza_type", "pepperoni")],
    );
    check(
        &r,
        &[
            "slot_3_1494421237824",
            "slot_6_1494421302730",
            "slot_1_1496007510809",
        ],
        &["I have you for large  pepperoni. Is it correct?"],
    );

    // Nothing fills the slot in focus: its Not-found response, and the dialog stays.
    let r = chat.say("hmm", &[], &[]);
    check(&r, &["handler_4_1496090458120"], &["Sorry, I did not understand. Can you please write yes to confirm the order or no to cancel the order all together? You can also yet change the type or size. Just say e.g. '\"small Margherita"]);
    assert_eq!(chat.waits_at(), "Pizza ordering");

    // The last slot filled: the frame is done and its `go_to` (body) runs node_15's first
    // true conditional response, which clears the order.
    let r = chat.say("yes", &[], &[("pizza_confirmed", "yes")]);
    check(
        &r,
        &["slot_1_1496007510809", "node_15_1497361850353"],
        &["Your pizza order will be finished in few minutes. Please feel free to place another order righ now."],
    );
    assert_eq!(r["context"]["pizza_size"], Value::Null);
    assert_eq!(r["context"]["pizza_confirmed"], Value::Null);
    assert_eq!(chat.waits_at(), "root");

    // A second order: `#reset` clears what was filled and prompts again; `#exit` sets every
    // slot variable, so the frame finishes and the `:no` response answers.
    let r = chat.say("order", &["order"], &[("pizza_size", "small")]);
    check(
        &r,
        &[
            "Pizza ordering",
            "slot_3_1494421237824",
            "slot_6_1494421302730",
        ],
        &["What type of pizza do you want?"],
    );
    let r = chat.say("reset", &["reset"], &[]);
    check(
        &r,
        &["handler_14_1497357475262", "slot_3_1494421237824"],
        &["Resetting", SIZE_PROMPT],
    );
    assert_eq!(r["context"]["pizza_size"], Value::Null);
    let r = chat.say("exit", &["exit"], &[]);
    check(
        &r,
        &["handler_13_1497357443183", "node_15_1497361850353"],
        &["Exitting.", "The order has been canceled."],
    );

    // Outside the frame, anything else answers with its sequential variations, in turn.
    let said: Vec<Vec<String>> = (0..4).map(|_| texts(&chat.say("blah", &[], &[]))).collect();
    assert_eq!(
        said,
        [
            ["I didn't understand. You can try rephrasing."],
            ["Can you reword your statement? I'm not understanding."],
            ["I didn't get your meaning."],
            ["I didn't understand. You can try rephrasing."],
        ]
    );
}

const DIGRESSION: &str =
    "watson-developer-cloud__community__watson-assistant_digression-showcase.json";
const JOBS: &str = "We are always looking for talented people to add to our team. What type of job are you interested in?";

/// `digression-showcase`: digressions (`digress_in: returns` on "Restaurant opening hours",
/// the interrupted "Job openings" prompt said again on return), no digression from a node
/// whose child is `anything_else` ("chit chat"), that child's `jump_to` with selector
/// `condition` to `Welcome`, whose condition is false after the first turn, so the
/// following root siblings are tried in the same turn; slots filled from system
/// entities with `reformatDateTime` in the input handlers, and the frame's response reading
/// the three `$var`s.
///
/// Reading taken: the return from a digression lists the interrupted node in
/// `nodes_visited`.
#[test]
fn digression_showcase_returns_jumps_and_slots() {
    let Some(ws) = load(DIGRESSION) else {
        return;
    };
    let mut chat = Chat::new(&ws);
    check(
        &chat.say("", &[], &[]),
        &["Welcome"],
        &["Hello. How can I help you?"],
    );

    let r = chat.say("any jobs?", &["job_opportunities"], &[]);
    check(&r, &["node_11_1521225850669"], &[JOBS]);
    assert_eq!(chat.waits_at(), "node_11_1521225850669");

    // No child matches: a root node that returns answers, then the dialog comes back.
    let r = chat.say("when are you open?", &["restaurant_opening_hours"], &[]);
    check(
        &r,
        &["node_13_1511336208117", "node_11_1521225850669"],
        &["The restaurant is open from 8:00 AM to 10:00 PM.", JOBS],
    );
    assert_eq!(chat.waits_at(), "node_11_1521225850669");
    let r = chat.say("greeter", &[], &[("job_role", "greeter")]);
    check(&r, &["node_13_1521225990944"], &["Yes, we have openings! Please come to the restaurant Monday or Wednesday for an in-person interview with the owner."]);
    assert_eq!(chat.waits_at(), "root");

    // "chit chat" cannot be digressed from: its `anything_else` child takes every input and
    // jumps (condition) to `Welcome`, false after the first turn, so the following root
    // siblings are tried in the same turn and "General help" answers, with no return.
    check(
        &chat.say("hi", &["GREETING"], &[]),
        &["node_15_1511337331821"],
        &["Hello. How are you?"],
    );
    let r = chat.say("help", &["help"], &[]);
    check(
        &r,
        &["node_1_1511343220783", "node_12_1511336153907"],
        &["You can for example ask me to book a restaurant."],
    );
    assert_eq!(chat.waits_at(), "root");

    // The same jump with an input no root node takes: "Anything else" answers.
    check(
        &chat.say("hi", &["GREETING"], &[]),
        &["node_15_1511337331821"],
        &["Hello. How are you?"],
    );
    let r = chat.say("the weather", &[], &[]);
    check(
        &r,
        &["node_1_1511343220783", "Anything else"],
        &["I didn't understand. You can try rephrasing."],
    );

    // Slots: date, time and number, each from its system entity, reformatted on input.
    let r = chat.say("book a table", &["book_restaurant"], &[]);
    check(
        &r,
        &["node_1_1511335990829", "slot_3_1511336015467"],
        &["When do you want to go?"],
    );
    let r = chat.say("December 4th", &[], &[("sys-date", "2026-12-04")]);
    check(
        &r,
        &["slot_3_1511336015467", "slot_6_1511336032812"],
        &["What time do you want to go?"],
    );
    assert_eq!(r["context"]["date"], "Friday, December 4");
    let r = chat.say(
        "7:30 pm for 4",
        &[],
        &[("sys-time", "19:30:00"), ("sys-number", "4")],
    );
    check(
        &r,
        &["slot_6_1511336032812", "slot_9_1511336049853"],
        &["OK. I'm making you a reservation on Friday, December 4 at 7:30 PM for 4 people."],
    );
}

const COMPLEX: &str =
    "watson-developer-cloud__community__watson-assistant_complex_dialog_tutorial.json";
const CANCELED: &str = "Ok. The order AB12345 is canceled. We hope we get the opportunity to bake a cake for you sometime soon.";

/// `complex_dialog_tutorial` (IBM's "complex dialog" tutorial): a context variable set from
/// `<? @sys-person.literal ?>` and read turns later by the conditional responses (MCR) of
/// `#General_Greetings` (`$username` true, else the response without condition);
/// `skip_user_input` on `#cancel_order`, whose children are evaluated with the same input;
/// a child that answers nothing and jumps (selector `condition`) to a sibling; `$ordernumber`
/// shorthand in text; `output.generic` text responses.
///
/// Readings taken: a conditional response without a condition is always true; a text
/// response with no values adds nothing to `output.text`.
#[test]
fn complex_dialog_context_mcr_skip_and_jump() {
    let Some(ws) = load(COMPLEX) else {
        return;
    };
    let mut chat = Chat::new(&ws);
    check(
        &chat.say("", &[], &[]),
        &["Welcome"],
        &["Welcome to the Watson Assistant tutorial!"],
    );
    check(
        &chat.say("hello", &["General_Greetings"], &[]),
        &["node_1_1533665752753"],
        &["Good day to you!"],
    );
    let r = chat.say("who are you?", &["General_About_You"], &[]);
    check(&r, &["node_2_1533822216425"], &["I am a chat bot that is designed to answer your questions about the Truck Stop Gourmand restaurant. What's your name?"]);
    let r = chat.say("I am Ana", &[], &[("sys-person", "Ana")]);
    check(
        &r,
        &["node_3_1533822448219"],
        &["Hello, Ana! It's lovely to meet you. How can I help you today?"],
    );
    assert_eq!(r["context"]["username"], "Ana");
    check(
        &chat.say("hi again", &["General_Greetings"], &[]),
        &["node_1_1533665752753"],
        &["Good day to you, Ana!"],
    );

    // The order number in the same input: skip_user_input reaches "Number provided".
    let r = chat.say(
        "cancel order AB12345",
        &["cancel_order"],
        &[("order_number", "AB12345")],
    );
    check(
        &r,
        &["node_3_1533758069575", "node_7_1533762200130"],
        &[
            "If the pickup time is more than 48 hours from now, you can cancel your order.",
            "Just to confirm, you want to cancel order AB12345?",
        ],
    );
    assert_eq!(chat.waits_at(), "node_7_1533762200130");
    check(
        &chat.say("yes", &["yes"], &[]),
        &["node_8_1533762449527"],
        &[CANCELED],
    );

    // Not confirmed: the `true` child says nothing and jumps to "Ask for order number";
    // a number in the wrong format, then a right one through node_11's MCR.
    chat.say(
        "cancel order AB12345",
        &["cancel_order"],
        &[("order_number", "AB12345")],
    );
    let r = chat.say("hmm, wait", &[], &[]);
    check(
        &r,
        &["node_9_1533762636065", "node_4_1533760873331"],
        &["What is the order number?"],
    );
    assert_eq!(chat.waits_at(), "node_4_1533760873331");
    let r = chat.say("it is 12345", &[], &[]);
    check(&r, &["node_10_1533765557331"], &["The correct format for our order numbers is AAnnnnn. The A's represents 2 upper-case letters, and the n's represents 5 numbers. Do you have an order number with that format?"]);
    let r = chat.say("AB12345", &[], &[("order_number", "AB12345")]);
    check(&r, &["node_11_1533765985455"], &[CANCELED]);
    assert_eq!(chat.waits_at(), "root");
}

const ENGAGEMENT: &str =
    "watson-developer-cloud__customer-engagement-bot__training_ce-workspace.json";
const SORRY: &str = "I’m sorry to hear that. Can you share any more detail about the experience?";

/// `customer-engagement-bot`: `conversation_start`; conditions on a context variable the
/// client sets (`$user.tone.emotion.current`, dotted shorthand); a child with a conditional
/// response whose condition is empty; `jump_to` with selector `user_input` ("Yes" → the
/// next input is evaluated from `node_4…` and its following siblings); `jump_to` with
/// selector `body` ("Restart" → "Hello"; `#yes` → "Sad Frustrated or Impolite" without its
/// condition); sequential `anything_else` variations wrapping round.
///
/// Readings taken: after the last sequential value the first one comes again; a conditional
/// response with an empty condition is always true.
#[test]
fn customer_engagement_tone_user_input_and_body_jumps() {
    let Some(ws) = load(ENGAGEMENT) else {
        return;
    };
    let mut chat = Chat::new(&ws);
    let hello = "Hi,  I see you purchased a new laptop two weeks ago.  How has your experience been so far?";
    check(&chat.say("", &[], &[]), &["Hello"], &[hello]);

    // The client writes the tone into the context, as the sample's application does.
    chat.context["user"] = json!({ "tone": { "emotion": { "current": "polite" } } });
    let r = chat.say("fine", &[], &[]);
    check(
        &r,
        &["None Satisfied Polite or Sympathetic"],
        &["Got it. Is anything not meeting your expectations?"],
    );
    // `#yes` jumps (body) to "Sad Frustrated or Impolite", whose condition is false.
    let r = chat.say("yes", &["yes"], &[]);
    check(
        &r,
        &["node_1_1500475762159", "Sad Frustrated or Impolite"],
        &[SORRY],
    );
    assert_eq!(chat.waits_at(), "Sad Frustrated or Impolite");
    let r = chat.say("the screen", &[], &[]);
    check(
        &r,
        &["Excited Satisfied Polite or Sympathetic"],
        &["Alright, noted. Please let us know if you need anything from us!"],
    );
    assert_eq!(chat.waits_at(), "root");

    // Restart: a body jump fires "Hello" though `conversation_start` is false now.
    check(
        &chat.say("restart", &["restart"], &[]),
        &["Restart", "Hello"],
        &[hello],
    );

    chat.context["user"]["tone"]["emotion"]["current"] = json!("confused");
    let said: Vec<Vec<String>> = (0..3).map(|_| texts(&chat.say("what", &[], &[]))).collect();
    assert_eq!(
        said,
        [
            ["If you want to start a new conversation, hit refresh."],
            ["If you'd like to start the conversation over, refresh the page."],
            ["If you want to start a new conversation, hit refresh."],
        ]
    );

    chat.context["user"]["tone"]["emotion"]["current"] = json!("frustrated");
    check(
        &chat.say("it keeps crashing", &[], &[]),
        &["Sad Frustrated or Impolite"],
        &[SORRY],
    );
    let r = chat.say("it crashes every hour", &[], &[]);
    check(&r, &["Frustrated or Impolite"], &["It sounds like you are frustrated about this purchase. Would you like to refund or trade in your laptop?"]);
    let r = chat.say("yes", &["yes"], &[]);
    check(
        &r,
        &["Yes"],
        &["Okay.  Would you like to refund your laptop, or trade it in for a new one?"],
    );
    assert_eq!(chat.waits_at(), "node_4_1500423448045");
    // Evaluated from the jump target on: `#refund` is false, its sibling `#tradeIn` answers.
    let r = chat.say("trade it in", &["tradeIn"], &[]);
    check(&r, &["node_5_1500423462327"], &["Okay, let’s get you a laptop that works better for you. View your options and submit a trade-in request, <a href=\"www.google.com\"> here.</a>"]);
    assert_eq!(chat.waits_at(), "node_5_1500423462327");
}

const CLAIM: &str = "gitjps__chatbot_phone_handover__skill-claim-en.json";

/// `skill-claim-en` (phone hand-over sample): a branch four levels deep walked with `true`
/// and `@yesno:yes` children; a context variable set from `<?input.text?>` and read with
/// `$vin` in the same node's text (context applied before the response); a server action
/// (not called offline: its result variable is null and the log says so); a `jump_to`
/// (body) back to the welcome node; sequential `output.generic` values across two visits.
///
/// Readings taken: server-side actions are not called offline, their result variable is
/// `null`; `$my_result.gw_result.message` on that null renders as nothing.
#[test]
fn claim_branch_context_server_action_and_body_jump() {
    let Some(ws) = load(CLAIM) else {
        return;
    };
    let mut chat = Chat::new(&ws);
    let welcome = "Hi. I'm Lisa. How can I help you?";
    check(&chat.say("", &[], &[]), &["Willkommen"], &[welcome]);
    assert_eq!(
        chat.context["private"]["my_credentials"]["api_key"],
        "xxx:xxx"
    );

    fn walk(chat: &mut Chat, plate_prompt: &str) {
        check(
            &chat.say("I have a claim", &["claim"], &[]),
            &["node_1_1558616107376"],
            &["You want to report a damage?"],
        );
        check(
            &chat.say("yes", &[], &[("yesno", "yes")]),
            &["node_1_1558682802817"],
            &["You want to report a damage, is it a hail damage?"],
        );
        check(
            &chat.say("yes", &[], &[("yesno", "yes")]),
            &["node_2_1558682913881"],
            &[plate_prompt],
        );
    }
    walk(&mut chat, "What's the license plate?");
    let r = chat.say("ZH 12345", &[], &[]);
    check(
        &r,
        &["node_3_1558682966171"],
        &["Your license plate is ZH 12345, where did the damage happen?"],
    );
    assert_eq!(r["context"]["vin"], "ZH 12345");
    let r = chat.say("no idea", &[], &[]);
    check(
        &r,
        &["node_4_1558683531074"],
        &["I did not understand that, do you want to call an agent?"],
    );
    // "and stop chat" jumps (body) to the welcome node.
    let r = chat.say("no", &[], &[("yesno", "no")]);
    check(
        &r,
        &["node_5_1558695754155", "Willkommen"],
        &["I see, goodbye!", welcome],
    );

    // The second walk shows the plate prompt's second value.
    walk(&mut chat, "Could you tell me the license plate?");
    chat.say("ZH 12345", &[], &[]);
    let r = chat.say("in Zurich", &[], &[("sys-location", "Zurich")]);
    check(
        &r,
        &["node_10_1574086675950"],
        &["I understand the damage happend in Zurich"],
    );
    assert_eq!(r["context"]["location"], "Zurich");

    // A server action: the call is not made offline; its result variable is null.
    let r = chat.say("what time is it?", &["time"], &[]);
    assert_eq!(
        visited(&r),
        ["node_1_1558620373801", "node_2_1558621226453"]
    );
    assert_eq!(texts(&r), ["Okay, I'll see what time it is.... "]);
    assert_eq!(r["context"]["my_result"], Value::Null);
    assert!(
        r.get("actions").is_none(),
        "server actions are not returned to the client"
    );
}

const TEXT_BOT: &str =
    "watson-developer-cloud__text-bot__resources_conversation-training-data.json";
const ASK_CITY: &str = "To get started, tell me the name of your city. It’ll help me send you weather forecasts for your area.";

/// `text-bot` (weather bot, a 2016 export): only the legacy `go_to` — selector `body`
/// (`anything_else` → greeting → its child, three nodes in one turn, the empty `""` texts
/// adding nothing), `user_input` (the next input is evaluated from
/// `node_2_1469743296504` and its following siblings, where a `true` sibling loops back),
/// and `condition` chains through the forecast advice (a false target gives way to its
/// next true sibling); context the client writes (`$city`, `$state`, `$tomorrow`,
/// `$weather_conditions`) read with dotted shorthand (`$city.name`) and `<? ?>` expressions.
#[test]
fn text_bot_legacy_go_to_chains() {
    let Some(ws) = load(TEXT_BOT) else {
        return;
    };
    let mut chat = Chat::new(&ws);
    let r = chat.say("", &[], &[]);
    check(
        &r,
        &[
            "node_2_1468348330186",
            "node_1_1471376546498",
            "node_2_1471378528322",
        ],
        &[
            "Hello there! I'm Watson weather bot. Let's talk about weather, shall we?",
            ASK_CITY,
        ],
    );
    assert_eq!(chat.waits_at(), "node_2_1469743296504");

    // No city yet: the `true` sibling at the end answers and waits at the same place.
    let r = chat.say("blue", &[], &[]);
    check(
        &r,
        &["node_1_1473187448969"],
        &["I didn't detect that as city. To get started, tell me the name of your city."],
    );
    assert_eq!(chat.waits_at(), "node_2_1469743296504");

    // The application has found the city and tomorrow's date, and writes them in.
    chat.context["city"] =
        json!({ "name": "Austin", "alternate_name": "austin", "number_of_states": 1 });
    chat.context["state"] = json!("TX");
    chat.context["tomorrow"] = json!("2026-11-24");
    let r = chat.say("tomorrow", &[], &[("date", "tomorrow")]);
    // node_3_1470641538143 (`number_of_states > 2`) is false: its sibling `$state` answers.
    check(&r, &["node_1_1472762905929", "node_4_1470333663854"], &[]);
    assert_eq!(r["context"]["date"], "2026-11-24");
    assert_eq!(r["context"]["get_weather"], "true");
    assert_eq!(chat.waits_at(), "node_4_1470333663854");

    // The application brings the forecast: hot, dry, moderate UV.
    chat.context["weather_conditions"] = json!({ "2026-11-24": { "day": {
        "narrative": "Sunny. Highs in the low 90s.", "temp": 92, "pop": 10, "uv_index": 5 } } });
    let r = chat.say("", &[], &[]);
    check(
        &r,
        &[
            "node_2_1470849946706",
            "node_3_1470851640049",
            "node_22_1470860430991",
            "node_1_1471971854852",
        ],
        &[
            "The weather for Austin on 2026-11-24 is supposed to be sunny. Highs in the low 90s.",
            "Hot conditions! If you must stay outdoors for extended periods, be sure to stay hydrated!",
            "I can predict the next seven days weather as well. Let me know the day of the week that you are interested in.",
        ],
    );
    assert_eq!(chat.waits_at(), "node_2_1469743296504");
}

const PIZZERIA: &str = "IBM__watson-assistant-slots-intro__data_watson-pizzeria.json";
const PIZZERIA_WELCOME: &str = "Welcome to Pizza Topping  Basic demonstration, you can order a pizza out of few selected types and sizes and add selected toppings. Ask for Help if needed.";

/// `watson-pizzeria` (IBM's slots introduction): a frame with conditional responses (MCR,
/// the last one without condition), a slot whose `filled` handler says nothing, an
/// optional slot (`$pizza_place`: its `focus` handler has no prompt, so it is never asked
/// for), a `#help` generic handler, `nomatch` handlers with conditions (`@extra_confirmed:yes`
/// answers and waits; `@extra_confirmed:no` empties the toppings and skips to the frame's
/// response with `skip_all_slots`), a digression out of slot filling
/// (`digress_out_slots: allow_all`) to "Reset", whose `jump_to` (body) says the welcome
/// again; `$var` shorthand in the frame's response.
///
/// Readings taken: a digression out of slot filling to a node that does not return (no
/// `digress_in: returns`) leaves the frame; a `filled` handler that answers nothing is still
/// listed in `nodes_visited`.
#[test]
fn pizzeria_optional_slot_nomatch_skip_all_and_slot_digression() {
    let Some(ws) = load(PIZZERIA) else {
        return;
    };
    let mut chat = Chat::new(&ws);
    check(&chat.say("", &[], &[]), &["Welcome"], &[PIZZERIA_WELCOME]);
    let toppings = "Any extra toppings?";
    let r = chat.say(
        "I want a large margherita",
        &["order"],
        &[("pizza_size", "large"), ("pizza_type", "margherita")],
    );
    check(
        &r,
        &[
            "Pizza ordering",
            "slot_3_1494421237824",
            "slot_6_1494421302730",
            "handler_5_1500492489376",
            "slot_1_1494704123064",
        ],
        &[toppings],
    );
    assert_eq!(r["context"]["pizza_toppings"], Value::Null);
    let r = chat.say("help", &["help"], &[]);
    check(
        &r,
        &["handler_10_1500495433159", "slot_1_1494704123064"],
        &["You can choose size (small, medium, large), type (cheese, margherita, quatro formaggi, or vegetarian) and extra ingredients.", toppings],
    );
    let r = chat.say("yes", &[], &[("extra_confirmed", "yes")]);
    check(&r, &["handler_8_1500493007853"], &["OK, which toppings would you like? We have pepperoni, sausage, ham, mushroom, onions, anchovy and olive."]);
    assert_eq!(chat.waits_at(), "Pizza ordering");

    // "#reset" is no slot's: the frame lets it digress to the root node "Reset".
    let r = chat.say("start over", &["reset"], &[]);
    check(
        &r,
        &["Reset", "Welcome"],
        &["Let's start over.", PIZZERIA_WELCOME],
    );
    assert_eq!(r["context"]["pizza_size"], Value::Null);
    assert_eq!(chat.waits_at(), "root");

    // No extra toppings: skip to the response; the optional place was never asked.
    chat.say(
        "order",
        &["order"],
        &[("pizza_size", "small"), ("pizza_type", "cheese")],
    );
    let r = chat.say("no", &[], &[("extra_confirmed", "no")]);
    check(
        &r,
        &["handler_4_1494704594631"],
        &[
            "No extra toppings,  O.K.",
            "Thank you for ordering a small cheese pizza.",
        ],
    );
    assert_eq!(r["context"]["pizza_toppings"], "");
    assert_eq!(chat.waits_at(), "root");
    let r = chat.say("blah", &[], &[]);
    check(&r, &["Fallback"], &["You can order a small, medium or large pizza. Types are Cheese, and you can add more ingredients, margherita, quatro formaggi, and vegetarian."]);
}

const SIMPLE_V2: &str =
    "watson-developer-cloud__doc-tutorial-downloads__assistant_assistant-simple-example-v2.json";

/// `assistant-simple-example-v2` (IBM's client-action tutorial): client actions
/// (`get_weather` with a `$user_location` parameter; `end_conversation`) returned in the
/// response's `actions` and ending the turn; the client writes `weather_forecast` and sends
/// an empty input, which the action node's children take (`$weather_forecast`, else `true`);
/// an `option` response in `output.generic` with no text; `conversation_start`.
///
/// Reading taken: a client action on a node that waits for input (no jump, no
/// `skip_user_input`) leaves `skip_user_input` unset.
#[test]
fn simple_example_client_actions() {
    let Some(ws) = load(SIMPLE_V2) else {
        return;
    };
    let mut chat = Chat::new(&ws);
    check(
        &chat.say("", &[], &[]),
        &["node_1_1480350999019"],
        &["Welcome to the Watson Assistant example!"],
    );
    chat.context["user_location"] = json!("Boston");
    let r = chat.say("what's the weather", &["weather"], &[]);
    check(&r, &["node_1_1601474349922"], &["Checking the weather..."]);
    assert_eq!(
        r["actions"],
        json!([{ "name": "get_weather", "type": "client",
            "parameters": { "forecast_location": "Boston" }, "result_variable": "weather_forecast" }])
    );
    assert_eq!(chat.waits_at(), "node_1_1601474349922");
    assert_eq!(r["context"]["skip_user_input"], Value::Null);
    // The client ran the action and sends its result with an empty input.
    chat.context["weather_forecast"] = json!("sunny");
    let r = chat.say("", &[], &[]);
    check(
        &r,
        &["node_2_1601474349926"],
        &["It will be sunny in Boston today."],
    );
    assert!(r.get("actions").is_none());

    let r = chat.say("menu", &["menu"], &[]);
    check(&r, &["node_7_1555438966545"], &[]);
    assert_eq!(r["output"]["generic"][0]["response_type"], "option");
    assert_eq!(r["output"]["generic"][0]["options"][2]["label"], "Exit");

    let r = chat.say("bye", &["goodbye"], &[]);
    check(&r, &["node_1_1479487905980"], &["OK! See you later."]);
    assert_eq!(r["actions"][0]["name"], "end_conversation");
    assert_eq!(chat.waits_at(), "root");
}

/// The shapes Watson itself writes into `context.system` (seen in contexts Watson returned):
/// every field fluxo writes must be one of them, so that a context fluxo answered can go back
/// to Watson. `dialog_stack`: objects with a `dialog_node` string (extra members allowed);
/// counters: whole numbers; `_node_output_map`: per node, a list of whole numbers, or an
/// object of such lists; flags: booleans; `branch_exited_reason`: a word.
#[track_caller]
fn assert_watson_shaped(system: &Value) {
    let whole_list = |v: &Value| {
        v.as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_u64))
    };
    for entry in system["dialog_stack"].as_array().expect("dialog_stack") {
        assert!(entry["dialog_node"].is_string(), "stack entry {entry}");
    }
    for counter in ["dialog_turn_counter", "dialog_request_counter"] {
        assert!(system[counter].is_u64(), "{counter} in {system}");
    }
    for (node, counter) in system["_node_output_map"]
        .as_object()
        .expect("_node_output_map")
    {
        let ok = whole_list(counter)
            || counter
                .as_object()
                .is_some_and(|o| o.values().all(&whole_list));
        assert!(ok, "_node_output_map.{node} = {counter}");
    }
    assert_eq!(system["initialized"], json!(true));
    assert!(system["branch_exited"].is_boolean(), "{system}");
}

/// Contexts written by Watson, and by older versions of its API: a conversation goes on from
/// a context that has `dialog_stack` and `dialog_turn_counter` but no `system.initialized`
/// (it is not greeted again), whose stack entries are node ids or objects, and whose
/// `_node_output_map` has any of the forms Watson wrote (`[0]`, `[0, 0]`, `{"0": [0]}`) or
/// fluxo's older one (`{"text": [0]}`). What fluxo answers is in Watson's shapes, and fluxo
/// reads it back: a stored context goes Watson → fluxo → Watson.
#[test]
fn contexts_from_watson_and_older_api_versions_continue() {
    let Some(ws) = load(DIGRESSION) else {
        return;
    };
    let jobs = "node_11_1521225850669";
    let greeter = "Yes, we have openings! Please come to the restaurant Monday or Wednesday for an in-person interview with the owner.";
    // A v1 context as a client built on 2017's API stored it: the dialog waits at "Job
    // openings"; no `initialized`.
    for stack in [json!([jobs]), json!([{ "dialog_node": jobs }])] {
        let mut chat = Chat::new(&ws);
        chat.context = json!({
            "conversation_id": "from-watson",
            "system": { "dialog_stack": stack, "dialog_turn_counter": 2, "dialog_request_counter": 2,
                "_node_output_map": { "Welcome": [0], jobs: [0] } }
        });
        let r = chat.say("greeter", &[], &[("job_role", "greeter")]);
        check(&r, &["node_13_1521225990944"], &[greeter]);
        assert_eq!(r["context"]["conversation_id"], "from-watson");
        assert_eq!(r["context"]["system"]["dialog_turn_counter"], 3);
        assert_watson_shaped(&r["context"]["system"]);
    }
    // Only a turn counter: still not a new conversation, so an empty input is not `welcome`.
    let mut chat = Chat::new(&ws);
    chat.context = json!({ "conversation_id": "c", "system": { "dialog_turn_counter": 5 } });
    let r = chat.say("", &[], &[]);
    check(
        &r,
        &["Anything else"],
        &["I didn't understand. You can try rephrasing."],
    );

    // Each form of the sequential counter of "Anything else" (last shown: the first value)
    // gives its second value next, and fluxo writes Watson's form back.
    let second = "Can you reword your statement? I'm not understanding.";
    for form in [
        json!([0]),
        json!([0, 0]),
        json!({ "0": [0] }),
        json!({ "text": [0] }),
    ] {
        let mut chat = Chat::new(&ws);
        chat.context = json!({
            "conversation_id": "c",
            "system": { "initialized": true, "dialog_stack": [{ "dialog_node": "root" }],
                "dialog_turn_counter": 1, "dialog_request_counter": 1,
                "_node_output_map": { "Anything else": form } }
        });
        let r = chat.say("the weather", &[], &[]);
        check(&r, &["Anything else"], &[second]);
        assert_eq!(
            r["context"]["system"]["_node_output_map"]["Anything else"],
            json!([1]),
            "{form}"
        );
    }

    // A whole conversation whose context goes through JSON text between the turns, checked
    // for Watson's shapes at every turn: slots waiting, a digression waiting to return.
    let mut chat = Chat::new(&ws);
    let steps = [
        ("", None),
        ("book a table", Some("book_restaurant")),
        ("what time do you open?", Some("restaurant_opening_hours")),
        ("any jobs?", Some("job_opportunities")),
        ("when are you open?", Some("restaurant_opening_hours")),
    ];
    for (text, intent) in steps {
        let intents: Vec<&str> = intent.into_iter().collect();
        let r = chat.say(text, &intents, &[]);
        assert_eq!(r["output"]["log_messages"], json!([]), "{r:#}");
        assert_watson_shaped(&r["context"]["system"]);
        chat.context = serde_json::from_str(&r["context"].to_string()).expect("json");
    }
}

/// IBM's digressions tutorial, word for word, on its own workspace (`digression-showcase`,
/// "Step 2: Temporarily digressing away from dialog"): a restaurant booking is interrupted
/// by a question about the opening hours (`digress_in: returns`), the answer is given, and
/// the booking comes back with the prompt of the next empty slot; it then completes. A
/// digression to a node that does not return (`#CANCEL`, `does_not_return`) leaves the
/// booking: the next input is taken at the root level.
///
/// Reading taken: on the return, `nodes_visited` lists the slot prompted again (the frame is
/// not entered again).
#[test]
fn digression_tutorial_returns_to_the_booking() {
    let Some(ws) = load(DIGRESSION) else {
        return;
    };
    let mut chat = Chat::new(&ws);
    check(
        &chat.say("", &[], &[]),
        &["Welcome"],
        &["Hello. How can I help you?"],
    );
    let r = chat.say("Book me a restaurant", &["book_restaurant"], &[]);
    check(
        &r,
        &["node_1_1511335990829", "slot_3_1511336015467"],
        &["When do you want to go?"],
    );
    let r = chat.say("Tomorrow", &[], &[("sys-date", "2026-11-24")]);
    check(
        &r,
        &["slot_3_1511336015467", "slot_6_1511336032812"],
        &["What time do you want to go?"],
    );
    let r = chat.say("What time do you open?", &["restaurant_opening_hours"], &[]);
    check(
        &r,
        &["node_13_1511336208117", "slot_6_1511336032812"],
        &[
            "The restaurant is open from 8:00 AM to 10:00 PM.",
            "What time do you want to go?",
        ],
    );
    assert_eq!(chat.waits_at(), "node_1_1511335990829");
    assert_eq!(r["context"]["date"], "Tuesday, November 24");
    let r = chat.say("5pm", &[], &[("sys-time", "17:00:00")]);
    check(
        &r,
        &["slot_6_1511336032812", "slot_9_1511336049853"],
        &["How many of you will be going?"],
    );
    let r = chat.say("6", &[], &[("sys-number", "6")]);
    check(
        &r,
        &["slot_9_1511336049853"],
        &["OK. I'm making you a reservation on Tuesday, November 24 at 5:00 PM for 6 people."],
    );
    assert_eq!(chat.waits_at(), "root");

    // A digression that does not return leaves the booking.
    let mut chat = Chat::new(&ws);
    chat.say("", &[], &[]);
    chat.say("Book me a restaurant", &["book_restaurant"], &[]);
    let r = chat.say("cancel", &["CANCEL"], &[]);
    check(
        &r,
        &["node_14_1511336454224"],
        &["Ok, cancelling the task."],
    );
    assert_eq!(chat.waits_at(), "root");
    assert_eq!(r["context"]["system"]["branch_exited_reason"], "digression");
    let r = chat.say("Tomorrow", &[], &[("sys-date", "2026-11-24")]);
    check(
        &r,
        &["Anything else"],
        &["I didn't understand. You can try rephrasing."],
    );
}

const CUSTOMER_CARE: &str = "watson-developer-cloud__assistant-skill-analysis__tests_resources_test_workspaces_skill-Customer-Care-Sample.json";
const RENT_A_CAR: &str = "IBM__watson-google-assistant__data_assistant_workspaces_rent_a_car.json";

/// `slot_in_focus` is true only while the Check-for of the slot whose prompt was just shown
/// is evaluated (IBM docs, "Getting confirmation": `(#yes || #no) && slot_in_focus`). In
/// IBM's rent_a_car sample the confirmation slot's Check-for is `slot_in_focus` alone: it is
/// asked after the other slots, and the answer to it fills it. In the Customer Care Sample,
/// "yes, tomorrow at 3pm" said to the date prompt fills the date and the time, not the
/// confirmation (`@reply && slot_in_focus`), which is asked next.
#[test]
fn slot_in_focus_is_the_prompted_slot_only() {
    if let Some(ws) = load(RENT_A_CAR) {
        let mut chat = Chat::new(&ws);
        let r = chat.say("I need a car", &["Reserve_a_car"], &[]);
        check(
            &r,
            &["node_2_1530310154321", "slot_3_1530310428510"],
            &["What day do you need a car?"],
        );
        let r = chat.say("tomorrow", &[], &[("sys-date", "2026-11-24")]);
        check(
            &r,
            &["slot_3_1530310428510", "slot_6_1530310497411"],
            &["What time on Tuesday do you want the car to be ready?"],
        );
        assert_eq!(r["context"]["confirm"], Value::Null);
        chat.say("3pm", &[], &[("sys-time", "15:00:00")]);
        chat.say("an suv", &[], &[("car-type", "suv")]);
        let r = chat.say("red", &[], &[("color-popular", "red")]);
        check(
            &r,
            &["slot_19_1530312774488", "slot_41_1530314637627"],
            &["OK. Please confirm. You want a red suv car on 2026-11-24 at 3:00 PM. Is that correct?"],
        );
        let r = chat.say("yes", &["Bot_Control_Approve_Response"], &[]);
        check(
            &r,
            &["slot_41_1530314637627", "handler_44_1530314703139"],
            &[
                "Great!",
                "Unfortunately, I don't really have any cars. This is a demo chat.",
            ],
        );
        // The sample's context value is the text "slot_in_focus" (no `<? ?>`), as in Watson.
        assert_eq!(r["context"]["confirm"], "slot_in_focus");
    }
    if let Some(ws) = load(CUSTOMER_CARE) {
        let mut chat = Chat::new(&ws);
        let r = chat.say(
            "I'd like to make an appointment",
            &["Customer_Care_Appointments"],
            &[],
        );
        assert_eq!(texts(&r), ["What day would you like to come in?"]);
        let r = chat.say(
            "yes, tomorrow at 3pm",
            &[],
            &[
                ("reply", "yes"),
                ("sys-date", "2026-11-24"),
                ("sys-time", "15:00:00"),
            ],
        );
        check(
            &r,
            &[
                "slot_102_1498132501942",
                "slot_105_1498132552870",
                "slot_8_1509132875735",
            ],
            &["Let me confirm: You want an appointment for Tuesday at 3 PM. Is this correct?"],
        );
        assert_eq!(r["context"]["confirm"], Value::Null);
        let r = chat.say("yes", &[], &[("reply", "yes")]);
        check(
            &r,
            &[
                "slot_8_1509132875735",
                "handler_14_1509133469904",
                "slot_22_1522444583114",
            ],
            &[
                "Perfect!",
                "I'll just need a phone to hold your reservation",
            ],
        );

        // A question about the hours at the date prompt (`Hours of Operation` returns): the
        // answer, then the date prompt again; the booking goes on with the next answer.
        let mut chat = Chat::new(&ws);
        chat.say("an appointment", &["Customer_Care_Appointments"], &[]);
        let r = chat.say("when are you open?", &["Customer_Care_Store_Hours"], &[]);
        check(
            &r,
            &["Hours of Operation", "slot_102_1498132501942"],
            &[
                "Our hours are Monday to Friday 10am to 8pm and Friday and Saturday 11am to 6pm.",
                "What day would you like to come in?",
            ],
        );
        let r = chat.say("tomorrow", &[], &[("sys-date", "2026-11-24")]);
        check(
            &r,
            &["slot_102_1498132501942", "slot_105_1498132552870"],
            &["What time on Tuesday do you want to come in?"],
        );
    }
}

const PIZZA_ADVANCED: &str =
    "watson-developer-cloud__community__watson-assistant_pizza-advanced.json";

/// Several slots filled by one input: every slot's Check-for runs first, then the Found
/// responses of the filled slots (IBM docs, slot conditions order). In `pizza-advanced`,
/// "small quatro formaggi" fills the size and the type; the size's Found response sees both
/// (no small quatro formaggi), empties the size and says so; the type's Found responses then
/// see no size, so its general one answers; the size is asked again.
#[test]
fn one_input_fills_several_slots_then_their_found_responses() {
    let Some(ws) = load(PIZZA_ADVANCED) else {
        return;
    };
    let sorry =
        "Sorry, we do not serve small pizza quatro formaggi. Please select different type or size.";
    let mut chat = Chat::new(&ws);
    chat.say("", &[], &[]);
    let r = chat.say("order pizza", &["order"], &[]);
    check(
        &r,
        &["Pizza ordering", "slot_3_1494421237824"],
        &["What size of pizza do you want?"],
    );
    let both = [("pizza_size", "small"), ("pizza_type", "quatro formaggi")];
    let r = chat.say("small quatro formaggi", &[], &both);
    check(
        &r,
        &[
            "slot_3_1494421237824",
            "slot_6_1494421302730",
            "handler_7_1494497082127",
            "handler_1_1494489746428",
            "slot_3_1494421237824",
        ],
        &[
            sorry,
            "quatro formaggi is a good choice.",
            "What size of pizza do you want?",
        ],
    );
    assert_eq!(r["context"]["pizza_size"], Value::Null);
    assert_eq!(r["context"]["pizza_type"], "quatro formaggi");
    // The same when the order itself names both.
    let mut chat = Chat::new(&ws);
    chat.say("", &[], &[]);
    let r = chat.say("order small quatro formaggi", &["order"], &both);
    assert_eq!(
        texts(&r),
        [
            sorry,
            "quatro formaggi is a good choice.",
            "What size of pizza do you want?"
        ]
    );
    let r = chat.say("large", &[], &[("pizza_size", "large")]);
    assert_eq!(
        texts(&r),
        ["Thank you for ordering quatro formaggi of large size."]
    );
}
