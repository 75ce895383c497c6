package bot

import (
	"context"
	"errors"
	"fmt"
	"html"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
)

// flowTTL is how long a guided send waits for the user's next answer
// (Config.FlowTTL changes it), on the store's clock.
const flowTTL = 15 * time.Minute

// flow is a send in progress: what is known so far. The bot asks for what
// is missing (recipient, coin and network, amount) and the user's next
// plain message or button answers it. Between two updates it is kept in the
// store, one per chat (flowstate.go), so the answer may reach any parent.
type flow struct {
	user    int64           // who is sending (the chat's user)
	version uint64          // the store's version this state was read at (0: none)
	toText  string          // what the user wrote for the recipient, not yet read
	to      *common.Address // the recipient, once read
	symbol  string          // the coin or token the user named, "" if none
	netName string          // the network the user named, "" if none
	asset   *asset          // the chosen coin on its network
	amount  string          // the amount as typed, "" if not given yet
}

// Callback data of the guided send's buttons.
const (
	cbFlow       = "f:"
	cbFlowCancel = "f:cancel"
	cbFlowMax    = "f:max"
	// cbFlowAsset: assetbutton.go
)

// cancelButton is the inline Cancel of every step of a guided send.
var cancelButton = button("Cancel", cbFlowCancel)

// /send, in one message ("/send 0.05 ETH to 0xAbC…", "/send 25 USDC to
// @bob on Base") or guided ("/send" alone asks for what is missing).
func (b *Bot) cmdSend(ctx context.Context, m *models.Message, args string) {
	fl, err := parseSend(args)
	if err != nil {
		b.say(ctx, m.Chat.ID, "⚠️ "+html.EscapeString(err.Error()))
		return
	}
	// A new /send takes the place of the one in progress.
	v, err := b.currentFlowVersion(m.Chat.ID)
	if err != nil && leaveToRetry(ctx, err) {
		return
	}
	fl.version = v
	b.continueSend(ctx, m.Chat.ID, m.From.ID, fl)
}

// Send button of the wallet card: the guided flow.
func (b *Bot) cbSend(ctx context.Context, q *models.CallbackQuery, _ string) {
	chatID := q.Message.Message.Chat.ID
	v, err := b.currentFlowVersion(chatID)
	if err != nil && leaveToRetry(ctx, err) {
		return
	}
	b.continueSend(ctx, chatID, q.From.ID, &flow{version: v})
}

// Buttons of a guided send: Cancel, Max, and the choice of coin and network.
func (b *Bot) cbFlow(ctx context.Context, q *models.CallbackQuery, arg string) {
	chatID, user := q.Message.Message.Chat.ID, q.From.ID
	if arg == "cancel" {
		ended, err := b.endAnyFlow(chatID)
		switch {
		case err != nil:
			b.fail(ctx, chatID, err) // the store away: left to the redelivery
		case ended:
			b.say(ctx, chatID, "Cancelled. Nothing was sent.")
		default:
			b.say(ctx, chatID, "That send is already over. Nothing was sent by it.")
		}
		return
	}
	fl, err := b.loadFlow(chatID, user)
	if err != nil {
		if !leaveToRetry(ctx, err) {
			b.say(ctx, chatID, flowUnreadable)
		}
		return
	}
	if fl == nil {
		b.say(ctx, chatID, "That send is over (it waits 15 minutes for an answer). Start again with /send.")
		return
	}
	switch {
	case arg == "max":
		if fl.asset == nil || fl.to == nil {
			return
		}
		max, err := b.maxAmount(ctx, user, *fl.asset)
		if err != nil {
			b.fail(ctx, chatID, err)
			return
		}
		if max.Sign() <= 0 {
			b.ask(ctx, chatID, user, fl, fmt.Sprintf("⚠️ Nothing is left to send: your %s balance does not cover more than the network fee and your pending transfers.", html.EscapeString(fl.asset.String())))
			return
		}
		fl.amount = formatAmount(max, fl.asset.decimals(), exact)
	case strings.HasPrefix(arg, assetArg):
		// The coin the button names, looked up in this parent's own list
		// (assetbutton.go); one it does not offer is refused and the
		// choice asked again, never replaced by another coin.
		a, err := b.assetOfButton(arg)
		if err != nil {
			b.log.Info("asset button refused", "chat", chatID, "err", err)
			b.say(ctx, chatID, b.assetRefusal(arg, err))
			fl.asset = nil
		} else {
			fl.asset = &a
		}
	default:
		return
	}
	b.continueSend(ctx, chatID, user, fl)
}

// onOther handles every update no other handler took: answers to a guided
// send, or a hint.
func (b *Bot) onOther(ctx context.Context, _ *tgbot.Bot, u *models.Update) {
	m := u.Message
	if m == nil || m.From == nil || m.Text == "" {
		return
	}
	if strings.HasPrefix(m.Text, "/") {
		b.say(ctx, m.Chat.ID, "I don't know that command. /help lists what I can do.")
		return
	}
	fl, err := b.loadFlow(m.Chat.ID, m.From.ID)
	if err != nil {
		// The store away: nothing read, nothing changed; the answer is
		// taken again from Telegram's redelivery.
		if !leaveToRetry(ctx, err) {
			b.say(ctx, m.Chat.ID, flowUnreadable)
		}
		return
	}
	if fl == nil {
		b.say(ctx, m.Chat.ID, "Send /help to see what I can do, or /send to send money.")
		return
	}
	text := strings.TrimSpace(m.Text)
	if fl.to == nil {
		fl.toText = text
	} else {
		// "0.02", "0.02 ETH", "25 usdc": the amount, and a symbol that
		// must match the chosen one.
		f, err := parseSend(text)
		if err != nil || f.amount == "" || f.toText != "" {
			fl.amount = text
		} else {
			fl.amount = f.amount
			if f.symbol != "" && fl.asset != nil && !strings.EqualFold(f.symbol, fl.asset.symbol()) {
				b.ask(ctx, m.Chat.ID, m.From.ID, fl, fmt.Sprintf("⚠️ This send is in %s. Type the amount in %s, or Cancel and start again.",
					html.EscapeString(fl.asset.symbol()), html.EscapeString(fl.asset.symbol())))
				return
			}
		}
	}
	b.continueSend(ctx, m.Chat.ID, m.From.ID, fl)
}

// continueSend takes the next step of a send: read what was given, ask
// for what is missing, or build the transfer and show its card.
//
// Every step writes the flow over the version its handler read (saveFlow,
// endFlow) before it says anything or builds: of two answers of one chat
// handled at once (two parents), one takes the step and the other is told
// it was not used.
func (b *Bot) continueSend(ctx context.Context, chatID, user int64, fl *flow) {
	fl.user = user
	w, err := b.svc.Wallet(user)
	if err != nil {
		// The store away: nothing written yet in this step (the flow is as
		// it was read), so the redelivery takes the same step again.
		if leaveToRetry(ctx, err) {
			return
		}
		b.stopSend(ctx, chatID, fl, b.explain(err))
		return
	}
	if fl.to == nil && fl.toText != "" {
		to, err := b.recipient(fl.toText)
		fl.toText = ""
		if err != nil {
			if leaveToRetry(ctx, err) { // an @username not looked up: as above
				return
			}
			b.ask(ctx, chatID, user, fl, b.explain(err)+"\nPaste the recipient's address again, or their @username.")
			return
		}
		fl.to = &to
	}
	if fl.asset == nil {
		a, question, err := b.pickAsset(ctx, w.Address, fl)
		if err != nil {
			b.stopSend(ctx, chatID, fl, "⚠️ "+html.EscapeString(err.Error()))
			return
		}
		if a == nil {
			if err := b.saveFlow(chatID, fl); err != nil {
				b.flowFailed(ctx, chatID, err)
				return
			}
			b.reply(ctx, chatID, question.text, question.markup)
			return
		}
		fl.asset = a
	}
	a := *fl.asset
	if fl.to == nil {
		b.ask(ctx, chatID, user, fl, fmt.Sprintf("Who do you want to send %s to? Paste their address (0x…), or their @username if they use this bot.", html.EscapeString(a.String())))
		return
	}
	if words := recipientIsToken(a, *fl.to); words != "" {
		// Said before the amount is asked; Build refuses it too.
		fl.to = nil
		b.ask(ctx, chatID, user, fl, words+"\nPaste the recipient's address again, or their @username.")
		return
	}
	if fl.amount == "" {
		b.askAmount(ctx, chatID, user, w.Address, fl, "")
		return
	}
	amount, err := parseAmount(fl.amount, a.decimals(), a.symbol())
	if err != nil {
		fl.amount = ""
		b.askAmount(ctx, chatID, user, w.Address, fl, b.explain(err))
		return
	}
	// The last step: the flow leaves the store before the transfer is
	// built, so of two answers handled at once only one builds. A refusal
	// below asks again with a new flow.
	if err := b.endFlow(chatID, fl); err != nil {
		b.flowFailed(ctx, chatID, err)
		return
	}
	ctx = context.WithValue(ctx, flowEndedKey{}, true)
	t, err := b.svc.Build(ctx, buildRequest(user, chatID, a, *fl.to, amount))
	if errors.Is(err, parent.ErrNoFeeCoin) {
		// More of the token does not help: the fee coin is missing.
		b.say(ctx, chatID, b.explain(err))
		return
	}
	if errors.Is(err, parent.ErrRecipientIsToken) {
		fl.to = nil
		b.ask(ctx, chatID, user, fl, b.explain(err)+"\nPaste the recipient's address again, or their @username.")
		return
	}
	if errors.Is(err, parent.ErrBalanceTooLow) || errors.Is(err, parent.ErrBadAmount) {
		// Never end silently: say why and ask again, with Max.
		fl.amount = ""
		b.askAmount(ctx, chatID, user, w.Address, fl, b.moreThanBalance(ctx, err, a, w.Address, amount))
		return
	}
	if err != nil {
		if errors.Is(err, storage.ErrUnavailable) && b.restoreFlow(ctx, chatID, fl) {
			return // left to the redelivery, which finds the flow again
		}
		b.say(ctx, chatID, b.explain(err))
		return
	}
	b.showBuilt(ctx, chatID, t)
}

// restoreFlow is the last step's way back when the store went away during
// Build: the flow already left the store (endFlow, so that only one answer
// builds), and a redelivery would find no send in progress. It stores the
// flow again as new (only if the chat has started no other meanwhile) and,
// if that worked, leaves the update to the redelivery (true), which builds
// from it. If it could not (the store still away), the user gets the error
// reply, as before: nothing was built.
func (b *Bot) restoreFlow(ctx context.Context, chatID int64, fl *flow) bool {
	if _, ok := ctx.Value(runKey{}).(*updateRun); !ok {
		return false // long polling: no redelivery
	}
	fl.version = 0
	if err := b.saveFlow(chatID, fl); err != nil {
		b.log.Warn("restoring a chat's send in progress after the store failed", "chat", chatID, "err", err)
		return false
	}
	return leaveToRetry(ctx, fmt.Errorf("build: %w", storage.ErrUnavailable))
}

// stopSend ends the send with a last word (if no other answer took it
// over meanwhile).
func (b *Bot) stopSend(ctx context.Context, chatID int64, fl *flow, text string) {
	if err := b.endFlow(chatID, fl); err != nil {
		b.flowFailed(ctx, chatID, err)
		return
	}
	b.say(ctx, chatID, text)
}

// moreThanBalance words a balance refusal with the bot's own rounding:
// the balance rounded down, what the transfer needs rounded up.
func (b *Bot) moreThanBalance(ctx context.Context, err error, a asset, from common.Address, amount *big.Int) string {
	var ib *parent.InsufficientBalanceError
	if !errors.As(err, &ib) {
		return b.explain(err)
	}
	sym, native := html.EscapeString(ib.Symbol), b.network(ib.ChainID).NativeSymbol
	if ib.Token == (common.Address{}) {
		return fmt.Sprintf("⚠️ That is more than your balance: you have %s %s on %s, and this needs up to %s %s (the amount plus the max network fee of %s %s).",
			formatAmount(ib.Have, ib.Decimals, down), sym, html.EscapeString(ib.Network), formatAmount(ib.Need, ib.Decimals, up), sym,
			eth(ib.Fee, up), html.EscapeString(native))
	}
	return fmt.Sprintf("⚠️ That is more than your balance: you have %s %s on %s.",
		formatAmount(ib.Have, ib.Decimals, down), sym, html.EscapeString(ib.Network))
}

// ask keeps the flow and asks its next question, with the Cancel button.
func (b *Bot) ask(ctx context.Context, chatID, user int64, fl *flow, text string) {
	if err := b.saveFlow(chatID, fl); err != nil {
		b.flowFailed(ctx, chatID, err)
		return
	}
	b.reply(ctx, chatID, text, keyboard([]models.InlineKeyboardButton{cancelButton}))
}

// askAmount asks how much, with the balance, Max and Cancel.
func (b *Bot) askAmount(ctx context.Context, chatID, user int64, from common.Address, fl *flow, before string) {
	if err := b.saveFlow(chatID, fl); err != nil {
		b.flowFailed(ctx, chatID, err)
		return
	}
	a := *fl.asset
	have := "unknown"
	if v, err := b.balance(ctx, a, from); err == nil {
		have = formatAmount(v, a.decimals(), down)
	}
	var s strings.Builder
	if before != "" {
		s.WriteString(before + "\n\n")
	}
	fmt.Fprintf(&s, "How much %s do you want to send to %s? You have %s %s.",
		html.EscapeString(a.String()), b.recipientLabel(*fl.to), have, html.EscapeString(a.symbol()))
	b.reply(ctx, chatID, s.String(), keyboard([]models.InlineKeyboardButton{button("Max", cbFlowMax), cancelButton}))
}

// question is a message with buttons.
type question struct {
	text   string
	markup models.ReplyMarkup
}

// pickAsset chooses the coin and network of a send from what the user
// named and what they hold, or returns the question that asks.
func (b *Bot) pickAsset(ctx context.Context, from common.Address, fl *flow) (*asset, question, error) {
	all := b.assets()
	var cands []int
	for i, a := range all {
		if fl.symbol != "" && !strings.EqualFold(a.symbol(), fl.symbol) {
			continue
		}
		if fl.netName != "" && !strings.EqualFold(a.net.Name, fl.netName) {
			continue
		}
		cands = append(cands, i)
	}
	if len(cands) == 0 {
		return nil, question{}, b.noSuchAsset(fl)
	}
	if len(cands) == 1 {
		return &all[cands[0]], question{}, nil
	}
	// More than one: offer those the user holds, or all if none.
	bals, _ := b.svc.Balances(ctx, from)
	var held []int
	for _, i := range cands {
		for _, bal := range bals {
			if bal.ChainID == all[i].net.ChainID && bal.Token == all[i].token.Address && bal.Known() && bal.Amount.Sign() > 0 {
				held = append(held, i)
			}
		}
	}
	if len(held) == 1 {
		return &all[held[0]], question{}, nil
	}
	if len(held) > 0 {
		cands = held
	}
	var rows [][]models.InlineKeyboardButton
	for _, i := range cands {
		rows = append(rows, []models.InlineKeyboardButton{button(all[i].String(), assetData(all[i]))})
	}
	rows = append(rows, []models.InlineKeyboardButton{cancelButton})
	what := "What do you want to send?"
	if fl.symbol != "" {
		what = fmt.Sprintf("%s is on more than one network. Which one do you send from?", html.EscapeString(strings.ToUpper(fl.symbol)))
	}
	return nil, question{what, keyboard(rows...)}, nil
}

// noSuchAsset says why nothing matches the coin and network named.
func (b *Bot) noSuchAsset(fl *flow) error {
	set := b.nets()
	var names []string
	for _, n := range set {
		names = append(names, n.Name)
	}
	if fl.netName != "" {
		if _, ok := set.ByName(fl.netName); !ok {
			return fmt.Errorf("I don't know the network %q. This wallet works on: %s", clip(fl.netName), strings.Join(names, ", "))
		}
	}
	anywhere := map[string]bool{}
	for _, a := range b.assets() {
		if strings.EqualFold(a.symbol(), fl.symbol) {
			anywhere[a.net.Name] = true
		}
	}
	if len(anywhere) > 0 {
		var on []string
		for _, n := range set {
			if anywhere[n.Name] {
				on = append(on, n.Name)
			}
		}
		return fmt.Errorf("%s is not on %s. It is on: %s", strings.ToUpper(fl.symbol), fl.netName, strings.Join(on, ", "))
	}
	var syms []string
	seen := map[string]bool{}
	for _, a := range b.assets() {
		if !seen[a.symbol()] {
			seen[a.symbol()] = true
			syms = append(syms, a.symbol())
		}
	}
	return fmt.Errorf("I don't know the token %q. This wallet sends: %s", clip(fl.symbol), strings.Join(syms, ", "))
}

// recipient reads an address or a @username of a user of this bot.
func (b *Bot) recipient(text string) (common.Address, error) {
	text = strings.TrimSpace(text)
	if strings.HasPrefix(text, "@") {
		_, w, err := b.svc.WalletOfUsername(strings.TrimPrefix(text, "@"))
		if err != nil {
			return common.Address{}, err
		}
		return w.Address, nil
	}
	return parent.ParseAddress(text)
}

// recipientIsToken words a recipient that is the contract of a token
// listed on a's network (parent.ErrRecipientIsToken): money sent to a
// token contract is lost. "" when it is not one.
func recipientIsToken(a asset, to common.Address) string {
	for _, t := range a.net.Tokens {
		if t.Address == to {
			lost := "tokens sent to it are lost"
			if a.native() {
				lost = a.net.NativeSymbol + " sent to it is lost"
			}
			return fmt.Sprintf("⚠️ That address is the %s token contract itself on %s; %s.",
				html.EscapeString(t.Symbol), html.EscapeString(a.net.Name), html.EscapeString(lost))
		}
	}
	return ""
}

// recipientLabel is an address for a sentence: "@bobby 0xAbCd…(all 40
// digits)" for a user of this bot with a Telegram username, else the full
// address alone. The name comes from this host's records of Telegram
// profiles; the Mini App shows only the address. The address is always in
// full, so a name can never stand in for it.
func (b *Bot) recipientLabel(to common.Address) string {
	if name := b.nameOf(to); name != "" {
		return name + " <code>" + to.Hex() + "</code>"
	}
	return "<code>" + to.Hex() + "</code>"
}

// nameOf is "@bobby" for one of our wallets whose owner has a Telegram
// username, or "". Security: only the username is shown, never the first
// name: a first name is free text its owner picks ("Bob (@bob)", or with
// U+202E to reverse what follows), so it could pass for another user.
// A username is unique in Telegram and limited to [A-Za-z0-9_], 5 to 32
// characters; a stored value outside that is shown as nothing.
func (b *Bot) nameOf(addr common.Address) string {
	u, ok := b.svc.OwnerOf(addr)
	if !ok || !validUsername(u.Username) {
		return ""
	}
	return "@" + u.Username
}

// validUsername: Telegram's rule for usernames, 5 to 32 of A-Z, a-z, 0-9
// and _. (Collectible 4-letter usernames exist; they are shown as nothing,
// the cautious side.)
func validUsername(s string) bool {
	if len(s) < 5 || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// cardNotes are the warnings of a card waiting for approval: sending to
// yourself, and pending transfers that together with this one exceed the
// balance. They are worked out each time the card is written.
func (b *Bot) cardNotes(ctx context.Context, t storage.Transfer) string {
	var notes []string
	if t.To == t.From {
		notes = append(notes, "Note: that is your own wallet's address. The money comes back to you; you only pay the network fee.")
	}
	a := b.assetOf(t.ChainID, t.Token)
	pending, n := b.pendingOut(ctx, t.Owner, a, t.ID)
	if n > 0 {
		cost := new(big.Int).Set(t.Amount)
		if a.native() && t.MaxFee != nil {
			cost.Add(cost, t.MaxFee)
			if t.L1Fee != nil {
				cost.Add(cost, t.L1Fee)
			}
		}
		line := fmt.Sprintf("You already have %s %s pending in %s not yet confirmed.",
			formatAmount(pending, a.decimals(), up), html.EscapeString(a.symbol()), plural(n, "transfer"))
		if bal, err := b.balance(ctx, a, t.From); err == nil && new(big.Int).Add(pending, cost).Cmp(bal) > 0 {
			line = "⚠️ " + line + fmt.Sprintf(" Together with this one that is more than your balance of %s %s: this one will not go through unless the earlier ones fail or you replace one.",
				formatAmount(bal, a.decimals(), down), html.EscapeString(a.symbol()))
		}
		notes = append(notes, line)
	}
	if len(notes) == 0 {
		return ""
	}
	return strings.Join(notes, "\n") + "\n\n"
}

// pendingOut sums the user's signed transfers of a that the chain has not
// included yet (the amount, plus the max fee for the native coin), except
// the transfer skip: what the chain's balance does not show yet.
func (b *Bot) pendingOut(ctx context.Context, user int64, a asset, skip string) (*big.Int, int) {
	sum, n := new(big.Int), 0
	mined := b.minedBelow(ctx)
	for _, t := range b.openTransfers(user) {
		if t.ID == skip || !t.State.Signed() || t.ChainID != a.net.ChainID || mined(t) {
			continue
		}
		if t.Token == a.token.Address && t.Amount != nil {
			sum.Add(sum, t.Amount)
			n++
		}
		if a.native() && t.MaxFee != nil {
			sum.Add(sum, t.MaxFee)
			if t.L1Fee != nil {
				sum.Add(sum, t.L1Fee)
			}
		}
	}
	return sum, n
}

// minedBelow reports whether the chain has included a transfer (its
// wallet's latest nonce is past it), so its amount is already out of the
// balance; the nonce is read once per wallet and network. When the node
// does not answer, the transfer counts as not included (pending), the
// cautious side for Max and the warnings.
func (b *Bot) minedBelow(ctx context.Context) func(storage.Transfer) bool {
	type key struct {
		chain uint64
		from  common.Address
	}
	latest := map[key]uint64{}
	return func(t storage.Transfer) bool {
		k := key{t.ChainID, t.From}
		n, ok := latest[k]
		if !ok {
			c, err := b.svc.ChainFor(t.ChainID)
			if err != nil {
				return false
			}
			if n, err = c.LatestNonce(ctx, t.From); err != nil {
				return false
			}
			latest[k] = n
		}
		return t.Nonce < n
	}
}

// openTransfers is the user's transfers that are not final (among the
// last 50), newest first.
func (b *Bot) openTransfers(user int64) []storage.Transfer {
	out, _ := b.activeTransfers(user)
	return out
}

// activeTransfers is openTransfers with the store's error (/cancel must
// not say "nothing to cancel" when it could not look).
func (b *Bot) activeTransfers(user int64) ([]storage.Transfer, error) {
	list, err := b.svc.History(user, 50, 0)
	if err != nil {
		return nil, err
	}
	out := list[:0]
	for _, t := range list {
		if t.State.Active() {
			out = append(out, t)
		}
	}
	return out, nil
}

// maxAmount is what the user can send of a: the balance, less pending
// transfers and, for the native coin, the max network fee now and, on a
// network with an L1 data fee, l1FeeMargin times its estimate: that fee is
// not capped by anything the user signs, so Max leaves room for it to rise
// before inclusion.
func (b *Bot) maxAmount(ctx context.Context, user int64, a asset) (*big.Int, error) {
	w, err := b.svc.Wallet(user)
	if err != nil {
		return nil, err
	}
	bal, err := b.balance(ctx, a, w.Address)
	if err != nil {
		return nil, err
	}
	pending, _ := b.pendingOut(ctx, user, a, "")
	max := new(big.Int).Sub(bal, pending)
	if a.native() {
		fee, err := b.maxFeeEstimate(ctx, a)
		if err != nil {
			return nil, err
		}
		max.Sub(max, fee)
	}
	return max, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// showBuilt sends a new transfer's card and remembers it.
func (b *Bot) showBuilt(ctx context.Context, chatID int64, t storage.Transfer) {
	text, markup := b.transferCard(ctx, t)
	msg, err := b.reply(ctx, chatID, text, markup)
	if err != nil {
		return
	}
	stored, err := b.svc.SetMessage(t.ID, chatID, msg.ID)
	if err != nil {
		b.log.Warn("remembering a transfer's card", "transfer", t.ID, "err", err)
		return
	}
	// A change made before the card's id was stored (a very quick Cancel)
	// found no card to edit: storing the id queued its edit
	// (storage/cards.go), made by the card editor.
	if stored.State != storage.StateBuilt {
		b.wakeCards()
	}
}

// parseSend reads "/send" arguments: an amount (optionally with its
// symbol, "0.05 ETH", "25usdc"), a recipient (0x address or @username,
// optionally after "to") and a network ("on Base"), the first three in any
// order, the network last. Any may be missing; the guided flow asks.
func parseSend(args string) (*flow, error) {
	fl := &flow{}
	words := strings.Fields(args)
	const example = "Write it like: /send 0.05 ETH to 0xAbC…"
	for i := 0; i < len(words); i++ {
		tok := words[i]
		low := strings.ToLower(tok)
		switch {
		case low == "to":
			continue
		case low == "on":
			fl.netName = strings.Join(words[i+1:], " ")
			if fl.netName == "" {
				return nil, errors.New("on which network? " + example + " on Base")
			}
			i = len(words)
		case strings.HasPrefix(low, "0x") || strings.HasPrefix(tok, "@") || looksLikeHexAddress(low):
			if fl.toText != "" {
				return nil, errors.New("that has two recipients. " + example)
			}
			fl.toText = tok
		case isAmountStart(tok):
			if fl.amount != "" {
				return nil, errors.New("that has two amounts. " + example)
			}
			num, sym := splitAmount(tok)
			fl.amount = num
			if sym != "" {
				if fl.symbol != "" {
					return nil, errors.New("I could not read that. " + example)
				}
				fl.symbol = sym
			}
		case isSymbol(tok):
			if fl.symbol != "" && fl.amount == "" {
				// "/send abc ETH": the first word was meant as the amount.
				fl.amount, fl.symbol = fl.symbol, tok
				continue
			}
			if fl.symbol != "" {
				return nil, errors.New("I could not read that. " + example)
			}
			fl.symbol = tok
		default:
			return nil, fmt.Errorf("I could not read %q. %s", clip(tok), example)
		}
	}
	return fl, nil
}

// isAmountStart: a word that starts like a number ("0.05", ".5", "-1").
func isAmountStart(s string) bool {
	c := s[0]
	return c >= '0' && c <= '9' || c == '.' || c == ',' || c == '-' || c == '+' || strings.HasPrefix(s, "−")
}

// splitAmount splits "25usdc" into "25" and "usdc".
func splitAmount(s string) (num, sym string) {
	i := strings.IndexFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' })
	if i <= 0 || strings.ContainsFunc(s[i:], func(r rune) bool { return r < 'A' || r > 'z' || r > 'Z' && r < 'a' }) {
		return s, "" // "1e5": not a symbol after a number; parseAmount says it is not a number
	}
	return s[:i], s[i:]
}

// isSymbol: letters and digits, 1 to 11 of them, starting with a letter.
func isSymbol(s string) bool {
	if len(s) > 11 {
		return false
	}
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// looksLikeHexAddress is a long run of hex digits with a letter among
// them, or exactly 40 digits: an address missing its 0x, which
// ParseAddress then explains. A run of decimal digits is an amount, however
// long ("too many digits" is said by parseAmount).
func looksLikeHexAddress(s string) bool {
	if len(s) < 20 {
		return false
	}
	letter := false
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
		letter = letter || c >= 'a'
	}
	return letter || len(s) == 40
}
