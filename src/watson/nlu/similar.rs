//! Words of a message that no training example has, read as a word the examples do have: a
//! synonym from a small general list per language, else the known word most alike in
//! character trigrams (`cancelling` as `cancel`, `alright` as `allright`). Both tables are
//! built once, from the workspace's vocabulary, at `Understanding::from_workspace` time.

use super::text::*;
use super::*;

/// What a synonym counts for, against the word itself.
pub(super) const SYNONYM_WEIGHT: f64 = 0.9;
/// The trigram (Dice) similarity from which an unknown word is read as a known one.
pub(super) const MIN_TRIGRAM_SIMILARITY: f64 = 0.6;
/// Shortest word (in characters) compared by trigrams: shorter words have too few of them.
const MIN_TRIGRAM_WORD: usize = 4;
/// Trigram postings visited at most per message.
pub(super) const TRIGRAM_BUDGET: usize = 200_000;

/// English synonyms: one group a line, general conversational and customer-service words.
/// A message word no example has is read as the first word of its group that examples have.
const SYNONYMS_EN: &str = "\
yes yeah yep yup yea aye
no nope nah naw
hi hello hey hiya howdy
bye goodbye farewell cya
thanks thank thx
help assist assistance support aid
book reserve reservation booking
cancel abort revoke
stop halt cease
quit exit leave
start begin commence
buy purchase
price cost fee charge
phone mobile cellphone cell telephone smartphone
call ring dial
text sms message
agent representative human person operator someone
job position vacancy opening employment career
hire hiring recruit employ
cook chef
waiter waitress server
store shop outlet
location address whereabouts
near nearby close closest nearest
appointment meeting session visit
problem issue error trouble fault
broken damaged faulty
lost missing stolen
password passcode pin
money cash funds fund
transfer send wire
stupid dumb idiot useless silly
great awesome fantastic wonderful excellent amazing terrific
bad terrible awful horrible poor
angry mad furious annoyed
happy glad pleased
sad unhappy upset
car vehicle auto
weather forecast
music song tune track
volume sound loudness
increase raise boost
decrease lower reduce
lie lying liar
restaurant diner eatery
toilet restroom bathroom washroom
gas fuel petrol gasoline
navigate navigation directions route
find locate search
show display view list
speak talk chat
idea clue notion
sorry apologies apologise apologize
sure certain
hours schedule timetable
delivery shipping
refund reimbursement";

/// Portuguese synonyms, as [`SYNONYMS_EN`] (accents are removed before comparing).
const SYNONYMS_PT: &str = "\
sim claro
oi olá alô
tchau adeus
obrigado obrigada valeu grato
ajuda ajudar socorro auxílio
reservar reserva agendar marcar
cancelar desistir anular
comprar adquirir
preço valor custo
telefone celular fone
atendente humano pessoa agente
problema erro defeito falha
senha password
loja filial agência
endereço localização local";

/// The character trigrams of a word, padded with `#` at both ends, without repeats.
pub(super) fn trigrams(word: &str) -> Vec<String> {
    let chars: Vec<char> = std::iter::once('#')
        .chain(word.chars())
        .chain(std::iter::once('#'))
        .collect();
    let mut out: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    out.sort();
    out.dedup();
    out
}

/// The vocabulary's character trigrams.
#[derive(Debug, Clone, Default)]
pub(super) struct Grams {
    /// Trigram → the vocabulary words that have it, in id order.
    index: HashMap<String, Vec<u32>>,
    /// Per vocabulary word, its number of distinct trigrams (0: not compared).
    count: Vec<u32>,
}

/// Whether a word is compared by trigrams: long enough, not a number, not too long.
fn trigram_word(word: &str) -> bool {
    let n = word.chars().count();
    (MIN_TRIGRAM_WORD..=MAX_FUZZY_WORD).contains(&n) && !word.chars().all(|c| c.is_ascii_digit())
}

impl Understanding {
    /// Builds the synonym table from the vocabulary (after `read_intents`); the trigram
    /// table is built on first use.
    pub(super) fn read_similar(&mut self) {
        let list = match self.language {
            Language::English => SYNONYMS_EN,
            Language::Portuguese => SYNONYMS_PT,
            Language::OtherComma => "",
        };
        for line in list.lines() {
            let group: Vec<String> = line
                .split_whitespace()
                .map(|w| stem(&normalise(w)).to_owned())
                .collect();
            for word in &group {
                if self.vocabulary.contains_key(word) || self.synonyms.contains_key(word) {
                    continue;
                }
                let known = group
                    .iter()
                    .filter(|m| *m != word)
                    .find_map(|m| self.vocabulary.get(m).copied());
                if let Some(id) = known {
                    self.synonyms.insert(word.clone(), id);
                }
            }
        }
    }

    /// The trigram index of the vocabulary, built on first use.
    fn grams(&self) -> &Grams {
        self.grams.get_or_init(|| {
            let mut g = Grams {
                index: HashMap::new(),
                count: vec![0; self.idf.len()],
            };
            for (word, &id) in &self.vocabulary {
                if !trigram_word(word) {
                    continue;
                }
                let grams = trigrams(word);
                if let Some(c) = g.count.get_mut(id as usize) {
                    *c = u32::try_from(grams.len()).unwrap_or(u32::MAX);
                }
                for t in grams {
                    g.index.entry(t).or_default().push(id);
                }
            }
            for ids in g.index.values_mut() {
                ids.sort_unstable();
            }
            g
        })
    }

    /// The known word an unknown message word stands for, and what it counts for (1 is the
    /// word itself): a synonym first, else the most alike word by trigrams (ties to the
    /// earlier word of the vocabulary). `budget` bounds the trigram postings visited.
    pub(super) fn similar(&self, word: &str, budget: &mut usize) -> Option<(u32, f64)> {
        if let Some(&id) = self.synonyms.get(word) {
            return Some((id, SYNONYM_WEIGHT));
        }
        if !trigram_word(word) {
            return None;
        }
        let table = self.grams();
        let grams = trigrams(word);
        let mut shared: HashMap<u32, u32> = HashMap::new();
        for g in &grams {
            for &id in table.index.get(g).into_iter().flatten() {
                if *budget == 0 {
                    return None;
                }
                *budget -= 1;
                *shared.entry(id).or_insert(0) += 1;
            }
        }
        let n = grams.len() as f64;
        shared
            .into_iter()
            .filter_map(|(id, c)| {
                let m = f64::from(*table.count.get(id as usize)?);
                Some((id, 2.0 * f64::from(c) / (n + m)))
            })
            .filter(|&(_, s)| s >= MIN_TRIGRAM_SIMILARITY)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }
}
