//! The kinds of outbox effects, as one closed set. A kind read from the store is parsed into
//! [`EffectKind`] and performed by an exhaustive `match`: a kind this build does not know (a
//! row written by a newer version, a damaged row) is a dead letter, never mistaken for another
//! effect.

/// What an outbox row asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectKind {
    /// Open the provider's conversation (the hand-over request).
    Handoff,
    /// Send the user's message to the agent.
    Relay,
    /// Send the user's file to the agent.
    File,
    /// Tell the agent the user is typing.
    Typing,
    /// Close the provider's conversation.
    Close,
    /// Push an output to the channel (`--deliver-to`).
    Deliver,
}

impl EffectKind {
    /// Every kind, in the order they are documented.
    pub const ALL: [EffectKind; 6] = [
        EffectKind::Handoff,
        EffectKind::Relay,
        EffectKind::File,
        EffectKind::Typing,
        EffectKind::Close,
        EffectKind::Deliver,
    ];

    /// The name stored in the outbox's `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            EffectKind::Handoff => "handoff",
            EffectKind::Relay => "relay",
            EffectKind::File => "file",
            EffectKind::Typing => "typing",
            EffectKind::Close => "close",
            EffectKind::Deliver => "deliver",
        }
    }

    /// The kind a stored name stands for (`None`: not a kind this build performs).
    pub fn parse(name: &str) -> Option<EffectKind> {
        EffectKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::EffectKind;

    #[test]
    fn names_read_back_and_unknown_ones_are_refused() {
        for k in EffectKind::ALL {
            assert_eq!(EffectKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EffectKind::parse("clos"), None);
        assert_eq!(EffectKind::parse(""), None);
    }
}
