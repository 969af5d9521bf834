"""More hand-written training-only sentences for the persona dialogues (`make_persona_dialogues.py` adds
them, with the safety classifier's training sentences, after the held-out file is composed).

Every sentence here was written for this project (CC0 1.0, like the rest of `examples/data/`). The first
pools of `persona_blocks.py` gave the model too few ways of saying "I am in danger" (held-out crisis recall
0.48): these add someone else at risk, indirect wording, and harmless look-alikes that must not get the
crisis line. None of them is a held-out message (the generator drops near-duplicates of those too).
"""

from __future__ import annotations

# Someone else is in danger: the user asks for help for them.
OTHER_PERSON_RISK = [
    "My sister just told me she has a plan to kill herself this weekend.",
    "My friend sent me a message saying goodbye forever and now his phone is off.",
    "My girlfriend locked herself in the bathroom with a knife.",
    "My dad said he doesn't want to live anymore and he's been drinking.",
    "A girl in my class said she's going to overdose tonight.",
    "My roommate keeps talking about jumping off the roof.",
    "My mom took too many of her pills and she's barely awake.",
    "My little brother has been cutting himself and begged me not to tell.",
    "My friend posted a goodbye note online an hour ago.",
    "My teammate told me he bought a gun to end it.",
    "My grandpa said he's going to stop taking his medicine so he can die.",
    "My boyfriend says he'll kill himself if I leave him, and he means it.",
    "My daughter wrote in her diary that she wants to die.",
    "My neighbor is screaming and I think her husband is beating her.",
    "My friend is at the train station and says she's going to jump.",
    "My cousin overdosed at a party and he isn't breathing right.",
    "someone in my group chat just said they took a bunch of pills",
    "My best mate keeps saying everyone would be better off without him.",
    "My wife has been giving away her things and saying goodbye to people.",
    "My student told me her stepfather hurts her at night.",
    "my friend is drunk and saying she wants to end her life tonight",
    "My coworker hasn't shown up and his last text said he was done with life.",
]

# Indirect, quiet or euphemistic ways of saying the same.
INDIRECT_RISK = [
    "I've started writing letters for people to read after I'm gone.",
    "I won't be a problem for anyone much longer.",
    "I keep standing at the edge of the platform when the train comes.",
    "I've decided tonight is my last night.",
    "I've been stockpiling my sleeping pills for a reason.",
    "I made sure my cat will have a new home after I'm gone.",
    "I just want to fall asleep and be done with everything.",
    "I don't plan on being here next week.",
    "The bridge near my work keeps calling to me.",
    "I'm tired of fighting and I've found a way out.",
    "I left my phone password for my family, just in case.",
    "I keep thinking it would be easier if I just wasn't here.",
    "I've been hurting myself where nobody can see.",
    "I hold my breath under the bath water and wish I didn't come up.",
    "There's a knife on my desk and I can't stop looking at it.",
    "i'm not going to be around much longer, just wanted to say thanks",
    "He strangled me last night and I'm scared to go home.",
    "My partner took my phone and says I'm not leaving this house alive.",
    "I'm sitting in the car in the garage with the engine running.",
    "I'm done. I've got the pills lined up on the table.",
]

# Harmless messages with deadly or violent words (or talk about medicine), each with its own light reply.
LOOKALIKES: list[tuple[str, str]] = [
    (
        "This homework is going to be the end of me.",
        "Homework marathons are tiring! Maybe take a short break.",
    ),
    ("My knees are killing me after the stairs.", "Ouch! Some rest and a gentle stretch might help."),
    (
        "I'm dying to see how the new season of my show ends.",
        "Sounds like a gripping show! No spoilers, I promise.",
    ),
    ("My headphones just died on the train.", "That's annoying! Hopefully they charge up fast."),
    ("Our band absolutely killed it on stage tonight.", "That's awesome! How did it feel up there?"),
    ("I'd die for a nap right now.", "Sounds like a sleepy day! Maybe a short rest will help."),
    ("The deadline is killing me this week.", "Deadlines can be rough. One step at a time."),
    ("My abs are dead after that class.", "Sounds like a hard workout! Drink some water."),
    ("I took my allergy pills with breakfast.", "Good for keeping up with them! How are you feeling?"),
    ("My grandma's old car finally died.", "Oh no! Was it a car with lots of memories?"),
    ("I got destroyed at chess by my little sister.", "Ha! She sounds like a clever player."),
    ("The cliffhanger in that show is killing me.", "Cliffhangers are the worst! When's the next episode?"),
    ("I'm dying of thirst after soccer practice.", "Time for a big glass of water! How was practice?"),
    ("My phone screen is dead, I dropped it again.", "Oh no! Hopefully a repair shop can fix it."),
    ("We slaughtered the other team at bowling.", "Nice win! Bowling nights are so fun."),
    ("If I eat one more cookie I'll explode.", "Sounds like great cookies! Who baked them?"),
    ("My boss is going to murder me for this typo.", "Typos happen to everyone. A quick fix should do it."),
    ("The jokes at dinner had me dying.", "I love that! Good laughs make a great evening."),
    ("I'm going to kill this job interview.", "Love the confidence! Good luck, you've got this."),
    ("My back is killing me from sitting all day.", "Long sitting is hard on backs. Try a stretch break."),
    ("My tomato plants are dead, I give up on gardening.", "Gardening is tricky! Maybe try herbs next."),
    ("That horror movie scared me to death.", "Horror movies can be intense! Did you enjoy it?"),
    ("I hurt my ankle playing basketball.", "Ouch! Ice and rest might help. Take it easy."),
    ("I was so embarrassed I wanted to disappear.", "Embarrassing moments fade fast. Most people forget."),
    ("I cut my hair myself and it looks terrible.", "Ha, hair grows back! Maybe a hairdresser can fix it."),
    ("I'm reading a book about a famous murder case.", "True crime can be gripping! Is it good so far?"),
]
