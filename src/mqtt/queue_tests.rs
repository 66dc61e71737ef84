//! Delivery rules of the outbox: order, overflow policy, coalescing, in-flight recovery.

use super::*;

fn topic(t: &str) -> Topic {
    Topic::checked(t).unwrap()
}

fn event(n: u32) -> Message {
    Message::new(topic("b/cam/event"), format!("e{n}"), false, Class::Event)
}

fn ring(n: u32) -> Message {
    Message::new(topic("b/cam/event"), format!("r{n}"), false, Class::Ring)
}

fn state(t: &str, payload: &str) -> Message {
    Message::new(topic(t), payload.to_owned(), true, Class::Latest)
}

/// Hands everything over and returns the payloads, as text.
fn drain(outbox: &mut Outbox) -> Vec<String> {
    let mut out = Vec::new();
    outbox.hand(|m| {
        out.push(String::from_utf8(m.payload.to_vec()).unwrap());
        true
    });
    out
}

#[test]
fn overflow_drops_oldest_non_ring_first_and_counts() {
    let mut o = Outbox::new(3);
    assert_eq!(o.push(ring(1)), Pushed::Queued);
    assert_eq!(o.push(event(2)), Pushed::Queued);
    assert_eq!(o.push(event(3)), Pushed::Queued);
    assert_eq!(o.push(ring(4)), Pushed::Overflowed { first: true });
    assert_eq!(o.push(ring(5)), Pushed::Overflowed { first: false });
    assert_eq!(o.dropped(), 2);
    assert_eq!(drain(&mut o), ["r1", "r4", "r5"]);
    // Only rings left: the oldest ring goes.
    let mut o = Outbox::new(2);
    for n in 1..=3 {
        o.push(ring(n));
    }
    assert_eq!(drain(&mut o), ["r2", "r3"]);
    assert_eq!(o.dropped(), 1);
}

#[test]
fn warns_once_per_overflow_episode() {
    let mut o = Outbox::new(1);
    o.push(event(1));
    assert_eq!(o.push(event(2)), Pushed::Overflowed { first: true });
    assert_eq!(o.push(event(3)), Pushed::Overflowed { first: false });
    drain(&mut o);
    o.push(event(4));
    assert_eq!(o.push(event(5)), Pushed::Overflowed { first: true });
}

#[test]
fn retained_states_keep_only_the_latest_value_in_first_position() {
    let mut o = Outbox::new(10);
    o.push(state("b/cam/motion", "ON"));
    o.push(event(1));
    o.push(state("b/cam/motion", "OFF"));
    o.push(state("b/cam/person", "ON"));
    assert_eq!(o.depth(), 3);
    assert_eq!(drain(&mut o), ["OFF", "e1", "ON"]);
    assert_eq!(o.latest(&topic("b/cam/motion")).unwrap().as_ref(), b"OFF");
}

#[test]
fn requeue_puts_retained_first_in_first_seen_order() {
    let mut o = Outbox::new(10);
    o.push(state("b/status", "online"));
    o.push(state("b/cam/motion", "ON"));
    o.push(Message::new(
        topic("b/cam/snapshot"),
        "jpeg",
        false,
        Class::Latest,
    ));
    drain(&mut o);
    for p in 1..=3 {
        o.sent(p);
        o.acked(p);
    }
    o.push(event(1));
    o.requeue_retained();
    assert_eq!(
        drain(&mut o),
        ["online", "ON", "e1"],
        "non-retained snapshot not repeated"
    );
}

#[test]
fn unacked_events_return_in_order_after_a_lost_connection() {
    let mut o = Outbox::new(10);
    for n in 1..=4 {
        o.push(event(n));
    }
    assert_eq!(drain(&mut o), ["e1", "e2", "e3", "e4"]);
    o.sent(7);
    o.sent(8);
    o.sent(9);
    assert!(o.acked(7));
    assert!(!o.acked(7), "a second ack for the same id is unknown");
    o.push(event(5));
    o.connection_lost();
    assert_eq!(o.in_flight(), 0);
    assert_eq!(drain(&mut o), ["e2", "e3", "e4", "e5"]);
}

#[test]
fn window_bounds_what_is_handed() {
    let mut o = Outbox::new(1000);
    for n in 0..100 {
        o.push(event(n));
    }
    assert_eq!(drain(&mut o).len(), IN_FLIGHT_WINDOW);
    assert_eq!(o.in_flight(), IN_FLIGHT_WINDOW);
    o.sent(1);
    o.acked(1);
    assert_eq!(drain(&mut o).len(), 1);
}

#[test]
fn refused_hand_over_keeps_the_message() {
    let mut o = Outbox::new(10);
    o.push(event(1));
    assert_eq!(o.hand(|_| false), 0);
    assert_eq!(o.depth(), 1);
    assert_eq!(drain(&mut o), ["e1"]);
    assert!(!o.is_idle());
    o.sent(1);
    o.acked(1);
    assert!(o.is_idle());
}

#[test]
fn requeued_events_respect_the_capacity() {
    let mut o = Outbox::new(2);
    o.push(event(1));
    o.push(event(2));
    drain(&mut o);
    o.push(event(3));
    o.push(ring(4));
    o.connection_lost();
    assert_eq!(drain(&mut o), ["e3", "r4"]);
    assert_eq!(o.dropped(), 2);
}
