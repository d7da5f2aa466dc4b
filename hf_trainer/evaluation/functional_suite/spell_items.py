"""Spelling-disguise test material for a Korean hate-speech / abuse classifier.

Written for this project by a helper that did not read the project's code (its spelling-game
generator or canonical form), with disguises outside the generator's tables, so the spell_* cases
test reading a disguised word, not the project's own undoing of its own games.

Every case is a natural sentence whose ONLY abusive or hateful part is one
disguised word (a profanity, a personal insult or a group slur).  No group
noun and no other insult appears in the sentence, and replacing the word by a
neutral word (third element) leaves a clean sentence.

SPELL_ITEMS[functionality] is a list of
    (disguised sentence, plain sentence, neutral sentence, label)

The three sentences are built from one frame, so they are identical except at
the word slot.  Where a particle depends on the final consonant, the particle
is either batchim-neutral (들, 인가, 임, 같다 ...) or it is part of the slot.
"""

A = "악플/욕설"
F = "여성/가족"
M = "남성"
Q = "성소수자"
R = "인종/국적"
AGE = "연령"
REG = "지역"
REL = "종교"


def _mk(frame, disguised, plain, neutral, label):
    return (
        frame.format(disguised),
        frame.format(plain),
        frame.format(neutral),
        label,
    )


SPELL_ITEMS = {
    # ------------------------------------------------------------------
    # Letters typed apart as compatibility jamo (whole word or part of it).
    # ------------------------------------------------------------------
    "spell_letters": [
        _mk("너 진짜 {} 같다", "ㅂㅕㅇㅅㅣㄴ", "병신", "천재", A),
        _mk("{} 오늘도 야근이네", "ㅆㅣㅂㅏㄹ", "씨발", "와", A),
        _mk("저 유튜버 완전 {} 사람이네", "ㅁㅣㅊㅣㄴ", "미친", "멋진", A),
        _mk("팀장님 또 {}이네 ㅋㅋ", "ㅈㅣㄹㅏㄹ", "지랄", "회식", A),
        _mk("너 그냥 {}", "ㄲㅓㅈㅕ", "꺼져", "잘 가", A),
        _mk("이 유튜버 진짜 {}다", "ㅆㅡㄹㅔㄱㅣ", "쓰레기", "최고", A),
        _mk("저 {} 또 왔네", "ㄱㅐㅅㅐㄲㅣ", "개새끼", "친구", A),
        _mk("말 그만하고 {}", "ㄷㅏㄱㅊㅕ", "닥쳐", "들어와", A),
        _mk("쟤 완전 {}잖아", "ㅉㅣㄴ따", "찐따", "인싸", A),  # partial
        _mk("{} 같은 소리 하고 있네", "ㅂㅠㅇ신", "븅신", "천재", A),  # partial
        _mk("댓글 쓴 사람 글 {} 길다 ㅋㅋ", "ㅈㅗㄴ나", "존나", "엄청", A),  # partial
        _mk("우리 팀장 저 {} 또 늦었네", "ㅅㅐㄲㅣ", "새끼", "사람", A),
        _mk("{} 이 시간에 또 회의냐?", "ㅅㅣ발", "시발", "헐", A),  # partial
        # slurs (group noun absent; the slur alone names the group)
        _mk("요즘 {}들은 데이트 비용 안 낸다더라", "ㄱㅣㅁ치녀", "김치녀", "학생", F),
        _mk("{}들 또 커뮤에서 난리 났네 ㅋㅋ", "ㅎㅏㄴㄴㅏㅁ충", "한남충", "사람", M),
        _mk("지하철 자리는 {}들이 다 차지했더라", "ㅌㅡㄹㄸㅏㄱ", "틀딱", "손님", AGE),
        _mk("{}들이 또 관광버스 타고 몰려왔네", "ㅉㅏㅇ깨", "짱깨", "손님", R),  # partial
        _mk("{}들은 선거 때마다 몰표 주더라", "ㅎㅗㅇㅇㅓ", "홍어", "친구", REG),
    ],
    # ------------------------------------------------------------------
    # Initial consonants only, as abusers actually write them.
    # ------------------------------------------------------------------
    "spell_initials": [
        _mk("{} 오늘 또 졌네", "ㅅㅂ", "시발", "아", A),
        _mk("너 진짜 {}임?", "ㅂㅅ", "병신", "천재", A),
        _mk("{} 좀 그만 떨어", "ㅈㄹ", "지랄", "수다", A),
        _mk("할 말 없으면 {}", "ㄲㅈ", "꺼져", "잘 가", A),
        _mk("너는 좀 {}", "ㄷㅊ", "닥쳐", "웃어", A),
        _mk("이 유튜버 완전 {}네", "ㅆㄹㄱ", "쓰레기", "최고", A),
        _mk("야 이 {}야", "ㄱㅅㄲ", "개새끼", "친구", A),
        _mk("쟤 반에서 유명한 {}래", "ㅉㄸ", "찐따", "인싸", A),
        _mk("저 사람 진짜 {}듯 ㅋㅋ", "ㅁㅊ", "미친", "멋진", A),
        _mk("{} 너 또 늦었냐", "ㅆㅂ", "씨발", "와", A),
        _mk("니 말투 {} 웃기네", "ㅈㄴ", "존나", "진짜", A),
        # ㅄ = the single compound letter for ㅂㅅ, widely used for 병신
        _mk("댓글 쓴 사람 {} 인증이네 ㅋㅋ", "ㅄ", "병신", "천재", A),
        _mk("{}하네 진짜 ㅋㅋ", "ㅈㄹ", "지랄", "고생", A),
        # slurs: these abbreviations occur but are rarer than the full
        # words (see NOTES)
        _mk("어제 {}들이 또 단톡방 만들었더라", "ㅎㄴ", "한남", "학생", M),
        _mk("{}들은 왜 맨날 프사가 꽃 사진이야", "ㅌㄷ", "틀딱", "친구", AGE),
        _mk("주말마다 {}들 역 앞에서 전도하던데", "ㄱㄷ", "개독", "사람", REL),
        _mk("{}들 방학했나 봐 게임에 엄청 많네", "ㄱㅅㅊ", "급식충", "사람", AGE),
    ],
    # ------------------------------------------------------------------
    # Spaces, dots or other punctuation inside the word.
    # ------------------------------------------------------------------
    "spell_spaces": [
        _mk("너 진짜 {} 맞구나", "병 신", "병신", "천재", A),
        _mk("{} 이게 말이 되냐", "씨.발", "씨발", "와", A),
        _mk("이 유튜버 {}다 진짜", "쓰-레-기", "쓰레기", "최고", A),
        _mk("이번 신입 완전 {} 애네", "미*친", "미친", "착한", A),
        _mk("{} 좀 하지 마 제발", "지.랄", "지랄", "장난", A),
        _mk("너 이제 그만 {}", "꺼.져", "꺼져", "쉬어", A),
        _mk("어제 그 {} 또 연락 왔더라", "개 새 끼", "개새끼", "친구", A),
        _mk("너는 그냥 {}라", "닥.쳐", "닥쳐", "웃어", A),
        _mk("쟤 중학교 때 {}였대", "찐~따", "찐따", "인싸", A),
        _mk("{} 인증 잘 봤습니다 ㅋㅋ", "븅_신", "븅신", "천재", A),
        _mk("너 {} 웃긴다 ㅋㅋ", "존.나", "존나", "진짜", A),
        _mk("우리 팀장 저 {} 또 늦었네", "새.끼", "새끼", "사람", A),
        _mk("{} 이 시간에 또 회의냐", "시 발", "시발", "헐", A),
        # slurs
        _mk("요즘 {}들 진짜 많더라", "된.장.녀", "된장녀", "손님", F),
        _mk("{}들 또 무슨 퍼레이드 한다던데", "똥 꼬 충", "똥꼬충", "학생", Q),
        _mk("{}들은 아직도 사과를 안 하네", "쪽.바.리", "쪽바리", "사람", R),
        _mk("주말에 {}가 또 헌금 얘기만 하더라", "먹-사", "먹사", "선배", REL),
        _mk("{}들 요즘 카톡 이모티콘 엄청 쓰더라", "틀/딱", "틀딱", "친구", AGE),
    ],
    # ------------------------------------------------------------------
    # Visual look-alike syllables: one stroke added/removed or a letter
    # swapped for a similar-looking one (ㅕ/ㅑ, ㅣ/ㅢ, ㅐ/ㅒ, ㅗ/ㅛ, ㅔ/ㅐ,
    # ㄱ/ㄺ ...).  Attestation level is given per item:
    #   [seen]   I have seen this form used to dodge filters;
    #   [guess]  built by the same one-stroke pattern, not sure it is used.
    # ------------------------------------------------------------------
    "spell_lookalike": [
        _mk("너 진짜 {} 같다", "뱡신", "병신", "천재", A),  # ㅕ->ㅑ [seen; brief's example]
        _mk("{} 또 버스 놓쳤네", "씌발", "씨발", "와", A),  # ㅣ->ㅢ [seen]
        _mk("저 유튜버 {} 거 같음", "믜친", "미친", "멋진", A),  # ㅣ->ㅢ [guess]
        _mk("어제 그 {} 또 전화했어", "개섀끼", "개새끼", "친구", A),  # ㅐ->ㅒ [seen]
        _mk("니 방송 진짜 {}다", "쓰래기", "쓰레기", "최고", A),  # ㅔ->ㅐ [seen, also a misspelling]
        _mk("너 말 {} 길다 ㅋㅋ", "죤나", "존나", "진짜", A),  # ㅗ->ㅛ [seen]
        _mk("그만 좀 {}", "닭쳐", "닥쳐", "웃어", A),  # ㄱ->ㄺ [seen, pun on 닭]
        _mk("쟤 진짜 {} 아니냐 ㅋㅋ", "찐땨", "찐따", "인싸", A),  # ㅏ->ㅑ [guess]
        _mk("{}하지 말고 밥이나 먹어", "지럴", "지랄", "고민", A),  # ㅏ->ㅓ [seen, also dialectal]
        _mk("댓글 쓴 사람 {}인가 봐", "병싄", "병신", "천재", A),  # ㅣ->ㅢ [seen]
        _mk("저 {} 또 지각이네", "섀끼", "새끼", "친구", A),  # ㅐ->ㅒ [seen]
        _mk("이번 감독 완전 {} 사람이네", "미췬", "미친", "멋진", A),  # ㅣ->ㅟ [guess]
        _mk("{} 진짜 또 야근이야", "씨뱔", "씨발", "와", A),  # ㅏ->ㅑ [guess]
        _mk("너 그냥 {}", "꺼쟈", "꺼져", "잘 가", A),  # ㅕ->ㅑ [guess]
        # slurs: all [guess], formed with the same one-stroke swaps
        _mk("{}들 또 커뮤에서 시위 공지 올렸네", "한냠충", "한남충", "사람", M),  # ㅏ->ㅑ
        _mk("{}들이 또 관광버스 타고 왔네", "짱꺠", "짱깨", "손님", R),  # ㅐ->ㅒ
        _mk("{}들 또 광장에서 행사한다더라", "똥꾜충", "똥꼬충", "학생", Q),  # ㅗ->ㅛ
        _mk("역 앞에 {}들 또 나와 있더라", "걔독", "개독", "사람", REL),  # ㅐ->ㅒ
        _mk("{}들은 카톡 프사가 다 꽃이더라", "틀땩", "틀딱", "친구", AGE),  # ㅏ->ㅑ
    ],
    # ------------------------------------------------------------------
    # Hangul drawn with Latin letters, digits or symbols.  Every disguise
    # contains at least one drawing outside the excluded list
    # (I or | for ㅣ, 1 for ㅣ, 0 for ㅇ, 8 for ㅂ, 人 for ㅅ, 口 for ㅁ,
    # r for ㅏ (2000s 외계어 style: ㄱr = 가), Il for ㅐ, =| for ㅕ,
    # -| for ㅓ, ⊥ for ㅗ, _ for ㅡ).
    # ------------------------------------------------------------------
    "spell_latin": [
        _mk("{} 또 비 오네", "人I발", "시발", "와", A),  # 人=ㅅ, I=ㅣ
        _mk("와 저 사람 {} 인증했네", "8ㅕ0신", "병신", "천재", A),  # 8=ㅂ, 0=ㅇ
        _mk("너 {}냐?", "口I쳤", "미쳤", "괜찮", A),  # 口=ㅁ, I=ㅣ
        _mk("또 {}하고 있네 ㅋㅋ", "ㅈI랄", "지랄", "고생", A),  # I=ㅣ
        _mk("이제 {}라", "77-|져", "꺼져", "잘 가", A),  # -|=ㅓ
        _mk("이 방송 진짜 {}네", "쓰레7I", "쓰레기", "최고", A),  # I=ㅣ
        _mk("어제 그 {} 또 지각했더라", "ㄱIl새끼", "개새끼", "친구", A),  # Il=ㅐ
        _mk("너는 그냥 {}", "닥ㅊ=|", "닥쳐", "웃어", A),  # =|=ㅕ
        _mk("쟤 학교에서 {}였대", "ㅉIㄴ따", "찐따", "인싸", A),  # I=ㅣ
        _mk("{} 같은 소리 하지 마", "8ㅠ0신", "븅신", "천재", A),  # 8=ㅂ, 0=ㅇ
        _mk("너 랩 {} 웃기다", "ㅈ⊥ㄴ나", "존나", "진짜", A),  # ⊥=ㅗ
        _mk("{} 이번 판도 졌다", "ㅆ1발", "씨발", "아", A),  # 1=ㅣ
        _mk("우리 팀장 저 {} 또 늦었네", "새77I", "새끼", "사람", A),  # I=ㅣ
        # slurs
        _mk("{}들이 또 단체로 들어왔네", "ㅉrㅇ깨", "짱깨", "손님", R),  # r=ㅏ
        _mk("{}들 오늘도 단톡방에서 떠들더라", "ㅎrㄴ남", "한남", "학생", M),  # r=ㅏ
        _mk("{}들 방학이라 피시방 꽉 찼네", "급人Iㄱ충", "급식충", "학생", AGE),  # 人=ㅅ, I=ㅣ
        _mk("{}들은 이번 선거도 똑같이 찍었더라", "홍0ㅓ", "홍어", "친구", REG),  # 0=ㅇ
        _mk("{}들이 또 카페에서 애 기저귀 갈았대", "口r口충", "맘충", "손님", F),  # 口=ㅁ, r=ㅏ
        _mk("{}들 또 광장에서 축제한다더라", "ㄸ⊥0꼬충", "똥꼬충", "학생", Q),  # ⊥=ㅗ, 0=ㅇ
    ],
}


NOTES = """\
Sources: my own knowledge of Korean online writing (portal news comments,
DC Inside / community boards, game chat, YouTube comments), of 야민정음 and of
the 2000s 외계어 style (ㄱr = 가, ㄴr = 나), and of common filter-evasion
habits (jamo splitting, initials, punctuation inside words, number/letter
drawings such as ㅅ1발, 8ㅕ0신).  No external list or dataset was used.
Uncertain items:
- spell_lookalike: forms marked [guess] in comments (믜친, 미췬, 찐땨, 씨뱔,
  꺼쟈 and all five slur forms 한냠충, 짱꺠, 똥꾜충, 걔독, 틀땩) follow the
  one-stroke-swap pattern but I cannot vouch that they are really used.
  Real 야민정음 pairs I know mostly hit non-abusive words and are on the
  brief's excluded list, so they were avoided.  지럴/쓰래기 double as
  pronunciation/misspelling variants, not purely visual ones.
- spell_initials slurs: ㅎㄴ (한남), ㅌㄷ (틀딱), ㄱㄷ (개독), ㄱㅅㅊ (급식충)
  do occur, but far less than the full words, and ㅌㄷ/ㄱㄷ are ambiguous
  without context.  I did not use ㅉㄲ/ㅈㅂㄹ/ㄸㄲㅊ (not sure they are used).
- spell_latin: 口 for ㅁ, ⊥ for ㅗ, =| for ㅕ, -| for ㅓ and 人 inside
  syllables are plausible drawings but rarer than 1/I/| for ㅣ, 0 for ㅇ,
  8 for ㅂ and r for ㅏ (외계어).
- Labels: 흑형 was avoided (its status as a slur is disputed); 맘충 is filed
  under 여성/가족; 홍어 is 지역 (전라도); 먹사/개독 are 종교 (Protestant).
- Neutral replacements: 학생/사람/손님/친구/선배 name no target group; a few
  neutral sentences keep a topical hint (헌금, 퍼레이드, 데이트 비용) but no
  group noun or insult.
- 존나 is only used in sentences aimed at someone (너, 니 말투, 댓글 쓴 사람).
"""
