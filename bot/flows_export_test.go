package bot

// SetFlowReadHook makes f run in every handler of b right after it read a
// chat's send in progress, before it writes it (tests hold two handlers
// there together). Set it before updates arrive.
func (b *Bot) SetFlowReadHook(f func()) { b.flows.afterRead = f }
